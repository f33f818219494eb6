"""The category model as served: four looks at the photo inside the model file
(``fashiontag.training.category.served_model``), so the browser and serving run the same ones."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from keras import layers

from fashiontag.training import category

SIDE = category.SIDE
CELLS = category.MASK_SIDE


def ramps() -> np.ndarray:
    """An image whose first channel is the row index and whose second is the column index."""
    rows, cols = np.meshgrid(np.arange(SIDE, dtype=np.float32), np.arange(SIDE, dtype=np.float32), indexing="ij")
    return np.stack([rows, cols, np.zeros_like(rows)], axis=-1)[None]


def zoom(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.asarray(category.zoom_to_garment(image, mask[None, ..., None].astype(np.float32)))


def test_the_zoom_frames_the_garment_the_map_found() -> None:
    mask = np.zeros((CELLS, CELLS))
    mask[4:8, 6:10] = 0.9  # rows 16-32 and columns 24-40 of the image
    mask[0, 0] = 0.4  # lukewarm: not garment
    zoomed = zoom(ramps(), mask)[0]
    extent = 16 / category.ZOOM_FILL  # the garment fills ZOOM_FILL of the zoomed frame
    centres = np.arange(SIDE) + 0.5
    expected_rows = (16 + 32 - extent) / 2 + centres * extent / SIDE - 0.5
    expected_cols = (24 + 40 - extent) / 2 + centres * extent / SIDE - 0.5
    # Bilinear sampling of a ramp returns the sampled position itself.
    np.testing.assert_allclose(zoomed[:, 0, 0], expected_rows, atol=1e-3)
    np.testing.assert_allclose(zoomed[0, :, 1], expected_cols, atol=1e-3)


def test_a_garment_at_the_edge_keeps_the_zoom_inside_the_frame() -> None:
    mask = np.zeros((CELLS, CELLS))
    mask[0:3, 13:16] = 1.0  # rows 0-12, columns 52-64: the top right corner
    zoomed = zoom(ramps(), mask)[0]
    extent = 12 / category.ZOOM_FILL
    centres = np.arange(SIDE) + 0.5
    # Centred on the garment the frame would reach past the top and the right: it is moved in.
    np.testing.assert_allclose(zoomed[:, 0, 0], np.clip(centres * extent / SIDE - 0.5, 0, None), atol=1e-3)
    right = np.clip(SIDE - extent + centres * extent / SIDE - 0.5, None, SIDE - 1)
    np.testing.assert_allclose(zoomed[0, :, 1], right, atol=1e-3)


@pytest.mark.parametrize(
    "cells",
    [np.zeros((CELLS, CELLS)), np.ones((CELLS, CELLS))],
    ids=["no garment found", "the garment fills the frame"],
)
def test_nothing_to_zoom_leaves_the_image_as_it_is(cells: np.ndarray) -> None:
    image = np.random.default_rng(0).uniform(0, 255, (1, SIDE, SIDE, 3)).astype(np.float32)
    np.testing.assert_allclose(zoom(image, cells), image, atol=1e-3)


def localising_model() -> keras.Model:
    """A stand-in with the trained network's outputs and a garment map that is sure of itself:
    the bright cells of the image (an untrained network's map hovers at 0.5 everywhere, its box
    is the whole frame, and the zoom would be left untried)."""
    image = keras.Input(shape=category.INPUT_SHAPE)
    to_map = layers.Conv2D(1, 1, activation="sigmoid", name="mask")
    mask = to_map(layers.AveragePooling2D(SIDE // CELLS)(image))
    category_head = layers.Dense(10, activation="softmax", name="category")
    probabilities = category_head(layers.Flatten()(layers.AveragePooling2D(8)(image)))
    model = keras.Model(image, {"category": probabilities, "mask": mask})
    to_map.set_weights([np.full((1, 1, 3, 1), 0.1 / 3, np.float32), np.array([-12.8], np.float32)])
    rng = np.random.default_rng(2)
    category_head.set_weights([rng.normal(0, 0.01, (8 * 8 * 3, 10)).astype(np.float32), np.zeros(10, np.float32)])
    return model


def test_the_served_file_averages_four_looks_with_built_in_operators_only() -> None:
    model = localising_model()
    rng = np.random.default_rng(1)
    image = rng.uniform(0, 100, (1, SIDE, SIDE, 3)).astype(np.float32)
    image[:, 20:36, 8:24] += 155  # the garment: bright cells of the map
    first = model(image)
    zoomed = zoom(image, np.asarray(first["mask"])[0, ..., 0])
    assert np.abs(zoomed - image).max() > 50  # the zoom is part of what is checked
    views = [image, image[:, :, ::-1], zoomed, zoomed[:, :, ::-1]]
    expected = np.mean([np.asarray(model(v)["category"]) for v in views], axis=0)[0]

    # A plain interpreter, no Flex delegate: the browser's LiteRT has only the built-in operators.
    interpreter = Interpreter(model_content=category.to_tflite(category.served_model(model), quantize=False))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
    interpreter.invoke()
    outputs = {tuple(o["shape"]): interpreter.get_tensor(o["index"]) for o in interpreter.get_output_details()}
    np.testing.assert_allclose(outputs[(1, 10)][0], expected, atol=1e-4)
    np.testing.assert_allclose(outputs[(1, CELLS, CELLS, 1)], np.asarray(first["mask"]), atol=1e-4)

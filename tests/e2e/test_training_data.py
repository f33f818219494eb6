"""Training data built from verified products: manager labels in, frozen evaluation set out."""

from __future__ import annotations

import numpy as np

from fashiontag import contract, fashion_mnist, products, synthetic
from fashiontag.local.stack import StackConfig
from fashiontag.training import data
from tests import corpus
from tests.helpers import upload, wait_finished


def _verify(product_id: str, spec: dict[str, object]) -> None:
    products.product_ref(product_id).update({"status": contract.VERIFIED, "spec": spec})


def test_category_data_takes_verified_inputs_with_the_managers_label(stack: StackConfig, seller: str) -> None:
    _, shirt = upload(f"uploads/{seller}/a.jpg", corpus.jpeg(corpus.garment_photo(1)))
    _, other = upload(f"uploads/{seller}/b.jpg", corpus.jpeg(corpus.garment_photo(2)))
    wait_finished(shirt), wait_finished(other)
    _verify(shirt, {"category": "bag", "source": "manager"})  # the manager's word wins

    built = data.build_category_dataset(bootstrap_limit=300, seed=1)

    assert built.manifest["verified_products"] == 1
    assert len(built.x) == 300 and built.x.shape[1:] == (28, 28)  # garments, rendered by training
    # The verified upload comes as serving saw it: its stored model input, the manager's label.
    assert built.verified_x.shape == (1, 64, 64, 3) and built.verified_y.tolist() == [8]  # bag
    _, frozen = fashion_mnist.frozen_split()
    assert not set(data.bootstrap_indices(None, 1)) & set(frozen.tolist())


def test_attribute_examples_keep_partial_labels(stack: StackConfig, seller: str) -> None:
    rng = np.random.default_rng(3)
    labels = synthetic.sample_labels(rng)
    photo = synthetic.render_trouser(labels, rng)
    _, product_id = upload(f"uploads/{seller}/jeans.jpg", corpus.jpeg(photo))
    wait_finished(product_id)
    _verify(product_id, {"category": "trouser", "attributes": {"fit": labels["fit"], "wash": labels["wash"]}})

    held_out = data.in_attribute_eval(product_id)
    x, y, ids = data.verified_attribute_examples("trouser", 64, evaluation=held_out)
    other_side = data.verified_attribute_examples("trouser", 64, evaluation=not held_out)

    assert ids == [product_id] and x.shape == (1, 64, 64, 3)
    assert other_side[2] == []  # a product is either trained on or kept for evaluation, never both
    assert y["fit"][0] == synthetic.TROUSER_FAMILIES["fit"].index(labels["fit"])
    assert y["rise"][0] == -1  # left open by the manager: masked out of the loss

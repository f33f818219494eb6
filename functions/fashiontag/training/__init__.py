"""Model training. The only part of fashiontag that imports TensorFlow."""

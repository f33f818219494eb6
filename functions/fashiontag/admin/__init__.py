"""The admin function's domain: who is calling, the review queue, messages, uploads, models.

Nothing here imports TensorFlow or LiteRT; ``functions/admin`` serves it with Flask.
"""

"""Recipes that build the shipped models: training data generators, fine-tuning, ONNX export.

Needs the `train` extra (`pip install -e '.[train]'`): torch, transformers and Faker. Serving
never imports this package.
"""

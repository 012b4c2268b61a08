"""Composed models: which encoders, how parts are fused, task prompts, Matryoshka rotation."""

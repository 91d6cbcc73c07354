"""rnnbook: the helper package of the book *Recurrent Neural Networks, from First Principles*."""

__version__ = "0.1.0"

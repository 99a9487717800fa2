"""SAM2 Workbench: prompt, track, measure and reproduce SAM 2 experiments in Jupyter.

Layers (imports go one way only): ``widgets → sessions → backends → types``;
``runners → protocols, sessions, metrics, io``; ``metrics`` needs only numpy/scipy/opencv.
``sam2`` and ``torch`` are imported only inside :mod:`workbench.backends`.
"""

__version__ = "0.1.0"

"""Authoring: checking, building and grading challenges; the notebooks in ``notebooks/`` only call this.

* ``validation.AuthoringCheck`` — one run of ``notebooks/author.ipynb``: load, preview, both paths
  through the engine (``paths``), the labelled examples (``grading``), the plot (``plots``) and the
  authoring rules (``lint``), then one error listing every failure.
* ``builder.ChallengeBuilder`` — write a challenge in typed Python and save it as YAML;
  ``scaffold`` — a new challenge full of TODO text that already validates.
* ``runner`` — run the author notebook through papermill over many files in parallel (``kernels``
  finds and starts the Jupyter kernel; ``parameters`` checks notebook parameters first).

Nothing here is imported at package import time; heavy dependencies (papermill, nbconvert,
matplotlib) are imported inside the functions that need them.
"""

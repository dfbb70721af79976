"""The ``curiouscore`` command line: the outermost adapter, free to wire every part together."""

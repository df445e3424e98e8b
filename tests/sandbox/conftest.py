import pytest

from runtime import sandbox


@pytest.fixture
def run_snippet():
    """Compile ``source`` as a snippet and run it; returns its value."""

    def run(source, *, name="tests/snippet.py", api=None, **limits):
        script = sandbox.compile_snippet(source, name)
        return sandbox.run(script, api=api, limits=sandbox.Limits(**limits) if limits else None)

    return run

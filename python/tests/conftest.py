"""The tests run against the installed package (`pip install ./python` into the test command's
virtualenv), never this checkout's sources: nothing here puts python/ on the path."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.environ.get("AMLJPEG_TESTDATA", os.path.join(HERE, "..", "..", "..", "shared", "testdata"))

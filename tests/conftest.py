import pathlib
import sys

# lets the tests import tests/toc.py as `toc`
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

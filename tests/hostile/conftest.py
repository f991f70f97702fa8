"""The hostile-input suite uses the shared moto server for its handler cases."""

from tests.support.moto_server import moto_server  # noqa: F401

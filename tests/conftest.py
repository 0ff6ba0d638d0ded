import pytest
from jackd import JackServer, have_jackd


@pytest.fixture(scope="module")
def jack_server():
    """A private jackd (dummy driver, 48 kHz, 128 frames) for the module, stopped by PID."""
    if not have_jackd():
        pytest.fail("jackd is not installed: scripts/test installs jackd2")
    server = JackServer().start()
    yield server
    server.stop()

import pytest

from support.jackd import ON_PIPEWIRE, Kelly, have_jackd, have_pipewire, new_server


@pytest.fixture(scope="module")
def jack_server():
    """A private server for the module (48 kHz, 128 frames), stopped by PID: jackd with the dummy driver,
    or in the PipeWire leg (KELLY_TEST_SERVER=pipewire) a private pipewire reached through its libjack."""
    if ON_PIPEWIRE and not have_pipewire():
        pytest.fail("pipewire or pipewire-jack is not installed: scripts/setup installs them")
    if not ON_PIPEWIRE and not have_jackd():
        pytest.fail("jackd is not installed: scripts/test installs jackd2")
    server = new_server().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True, scope="session")
def _no_user_config(tmp_path_factory):
    """Commands run without --config must not find the config of whoever runs the tests: $XDG_CONFIG_HOME
    points at an empty folder and $KELLY_JACK_CONFIG is unset, for this process and the ones it starts."""
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
    patch.delenv("KELLY_JACK_CONFIG", raising=False)
    yield
    patch.undo()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "pipewire: also runs in the PipeWire leg (KELLY_TEST_SERVER=pipewire, under pw-jack; scripts/test)"
    )


@pytest.fixture(autouse=True)
def _stop_leftover_kellys():
    """Stop (by PID) any kelly process a test started and did not stop, e.g. when it failed early."""
    yield
    while Kelly.running:
        Kelly.running[0].stop()

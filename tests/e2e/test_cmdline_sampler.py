"""The sampler the secret checks rely on does see a secret on a command line."""

import subprocess
import time

import pytest

from tests.e2e.cmdline_sampler import watching

pytestmark = pytest.mark.e2e


def test_the_sampler_sees_a_secret_on_a_command_line() -> None:
    secret = "sampler-probe-4f1c9e"
    with watching([secret]) as seen:
        time.sleep(0.3)
        subprocess.run(["sh", "-c", "sleep 0.3", "sh", secret], check=True)
        time.sleep(0.1)
    assert seen.samples > 10 and seen.count > 0
    assert all("<SECRET>" in hit and secret not in hit for hit in seen.hits)

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from quart_chat import secret_key


def test_generated_once_private_and_reused(tmp_path: Path) -> None:
    first = secret_key.load_or_create(tmp_path / "data")
    path = tmp_path / "data" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 48
    assert secret_key.load_or_create(tmp_path / "data") == first


def test_concurrent_processes_agree_on_one_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: secret_key.load_or_create(tmp_path), range(16)))
    assert len(keys) == 1

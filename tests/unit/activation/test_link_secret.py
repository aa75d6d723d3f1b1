"""The link-token secret comes from the environment, else from a random file made once."""

import stat

from dagster_project.activation import planner


def test_the_environment_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("SMS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SMS_LINK_SECRET", "from-the-environment")
    assert planner.link_secret() == "from-the-environment"
    assert not (tmp_path / ".link_secret").exists()


def test_unset_a_random_secret_is_made_once_per_data_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("SMS_LINK_SECRET", raising=False)
    monkeypatch.setenv("SMS_DATA_DIR", str(tmp_path / "a"))
    first = planner.link_secret()
    assert len(first) >= 40 and planner.link_secret() == first  # stable: tokens survive reruns
    path = tmp_path / "a" / ".link_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    monkeypatch.setenv("SMS_DATA_DIR", str(tmp_path / "b"))
    assert planner.link_secret() != first  # another deployment, another secret

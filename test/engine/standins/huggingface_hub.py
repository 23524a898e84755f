"""Stand-in for huggingface_hub.snapshot_download: no network here, so the "download" writes a small
marker tree under HF_HOME the way the hub cache lays out a snapshot, and returns its path."""
import os


def snapshot_download(repo_id, revision, **kwargs):
    home = os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface"))
    path = os.path.join(home, "hub", "models--" + repo_id.replace("/", "--"), "snapshots", revision)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        f.write('{"stand_in": true}\n')
    return path

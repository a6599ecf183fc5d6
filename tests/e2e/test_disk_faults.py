"""The disk tier damaged behind the server's back: before the third turn of 16 conversations
(the second spilled pages to disk), every page file on disk is corrupted, truncated or
removed. The third turns answer exactly
what a server without a cache answers (a damaged page is a miss, recomputed), and each
damage is counted by kind in parley_prefix_cache_disk_faults_total. The injected-fault
matrix (write errors, a full disk, failed renames, short and corrupt reads) runs without a
model in src/prefix_cache/disk_tier_test.cc."""
import os

KINDS = ("write", "no_space", "rename", "read", "read_missing", "read_size", "read_corrupt")


def damage(folder):
    """Corrupts one file in three, truncates the next, removes the third; returns how many."""
    files = sorted(p for p in folder.iterdir() if p.suffix == ".kv")
    for i, p in enumerate(files):
        if i % 3 == 0:
            with open(p, "r+b") as f:
                b = f.read(1)
                f.seek(0)
                f.write(bytes([b[0] ^ 0xFF]))
        elif i % 3 == 1:
            os.truncate(p, os.path.getsize(p) // 2)
        else:
            os.remove(p)
    return len(files)


def test_damaged_disk_pages_are_misses_counted_by_kind(tiny_gemma_model, start_server, tmp_path):
    disk_dir = tmp_path / "kv-disk"
    args = ["-c", "512", "-t", "1", "--model-name", "tiny", "--kv-cache-mb", "1"]
    cached = start_server(tiny_gemma_model, *args, "--disk-cache-dir", str(disk_dir), "--disk-cache-mb", "16")
    plain = start_server(tiny_gemma_model, *args, "--no-prefix-cache")

    def play(client, between_turns=None):
        convs = [[{"role": "system", "content": f"Character {i}: " + "a calm and careful guide. " * 6}]
                 for i in range(16)]
        replies = []
        for turn in range(3):
            if turn == 2 and between_turns:
                between_turns()
            for c in convs:
                c.append({"role": "user", "content": f"Turn {turn}: what next?"})
                r = client.chat.completions.create(model="tiny", messages=c, max_tokens=6, temperature=0,
                                                   extra_body={"ignore_eos": True})
                c.append({"role": "assistant", "content": r.choices[0].message.content})
                replies.append(r.choices[0].message.content)
        return replies

    damaged = []
    folder = lambda: next(disk_dir.iterdir())  # this server's folder
    with_damage = play(cached.client(), lambda: damaged.append(damage(folder())))
    assert damaged[0] >= 3, damaged  # pages had gone to disk, and each kind of damage was done
    assert with_damage == play(plain.client())
    m = cached.metrics()
    faults = {k: m[f'parley_prefix_cache_disk_faults_total{{kind="{k}"}}'] for k in KINDS}
    # A prefix stops at its first bad page (the pages after it are dropped unread), so not
    # every damaged file is read; the unit matrix checks each kind alone.
    assert faults["read_corrupt"] + faults["read_size"] + faults["read_missing"] >= 2, faults
    assert faults["write"] == faults["no_space"] == faults["rename"] == faults["read"] == 0, faults
    assert m["parley_prefix_cache_disk_errors_total"] == sum(faults.values()), m
    assert cached.get("/health").status_code == 200

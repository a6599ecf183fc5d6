"""The disk tier damaged behind a serving process: page files corrupted, truncated or
removed (reads fail), or the tier's whole folder removed (writes fail). Replies equal a
server without a cache (a damaged page is a miss, recomputed), and each fault is counted by
kind in parley_prefix_cache_disk_faults_total. The injected-fault matrix (write errors, a
full disk, failed renames, short and corrupt reads) runs without a model in
src/prefix_cache/disk_tier_test.cc."""
import os
import shutil

KINDS = ("write", "no_space", "rename", "read", "read_missing", "read_size", "read_corrupt")
ARGS = ["-c", "512", "-t", "1", "--model-name", "tiny", "--kv-cache-mb", "1"]


def play(client, damage_before_turn=None, damage=None):
    """Three greedy turns of 16 conversations (the pool holds a few: pages spill to disk)."""
    convs = [[{"role": "system", "content": f"Character {i}: " + "a calm and careful guide. " * 6}]
             for i in range(16)]
    replies = []
    for turn in range(3):
        if turn == damage_before_turn:
            damage()
        for c in convs:
            c.append({"role": "user", "content": f"Turn {turn}: what next?"})
            r = client.chat.completions.create(model="tiny", messages=c, max_tokens=6, temperature=0,
                                               extra_body={"ignore_eos": True})
            c.append({"role": "assistant", "content": r.choices[0].message.content})
            replies.append(r.choices[0].message.content)
    return replies


def damage_files(folder):
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


def faults_of(server):
    m = server.metrics()
    faults = {k: m[f'parley_prefix_cache_disk_faults_total{{kind="{k}"}}'] for k in KINDS}
    assert m["parley_prefix_cache_disk_errors_total"] == sum(faults.values()), m
    return faults


def test_damaged_page_files_are_read_misses_counted_by_kind(tiny_gemma_model, start_server, tmp_path):
    disk_dir = tmp_path / "kv-disk"
    cached = start_server(tiny_gemma_model, *ARGS, "--disk-cache-dir", str(disk_dir), "--disk-cache-mb", "16")
    plain = start_server(tiny_gemma_model, *ARGS, "--no-prefix-cache")
    damaged = []
    # Before the third turn: the second spilled pages to disk.
    with_damage = play(cached.client(), 2, lambda: damaged.append(damage_files(next(disk_dir.iterdir()))))
    assert damaged[0] >= 3, damaged  # pages had gone to disk, and each kind of damage was done
    assert with_damage == play(plain.client())
    faults = faults_of(cached)
    # A prefix stops at its first bad page (the pages after it are dropped unread), so not
    # every damaged file is read; the unit matrix checks each kind alone.
    assert faults["read_corrupt"] + faults["read_size"] + faults["read_missing"] >= 2, faults
    assert faults["write"] == faults["no_space"] == faults["rename"] == faults["read"] == 0, faults
    assert cached.get("/health").status_code == 200


def test_a_removed_tier_folder_makes_writes_fail_and_counted(tiny_gemma_model, start_server, tmp_path):
    disk_dir = tmp_path / "kv-disk"
    cached = start_server(tiny_gemma_model, *ARGS, "--disk-cache-dir", str(disk_dir), "--disk-cache-mb", "16")
    plain = start_server(tiny_gemma_model, *ARGS, "--no-prefix-cache")
    # Before the second turn, whose evictions would spill pages to disk.
    with_damage = play(cached.client(), 1, lambda: shutil.rmtree(next(disk_dir.iterdir())))
    assert with_damage == play(plain.client())
    faults = faults_of(cached)
    assert faults["write"] >= 1, faults
    m = cached.metrics()
    assert m["parley_prefix_cache_disk_written_pages_total"] == 0 and m["parley_prefix_cache_disk_bytes"] == 0, m
    assert cached.get("/health").status_code == 200
    assert cached.stop() == 0  # the folder it would remove at exit is gone already

#!/usr/bin/env python3
"""Decodes the TensorBoard event file of a sample run independently of layerwatch's writer.

Reads the TFRecord framing (lengths and both masked CRC-32C checksums, computed here bit by bit
rather than with the writer's table), parses the protobuf wire format by hand, and checks the
tags, steps and values against the same run's convergence.jsonl.

    decode_tensorboard_test.py WRITE_SAMPLE_RUN WORK_DIR
"""
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import zlib


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path):
    data = open(path, "rb").read()
    records, pos = [], 0
    while pos < len(data):
        assert pos + 12 <= len(data), f"truncated header at byte {pos}"
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        assert length_crc == masked(crc32c(header)), f"length CRC mismatch at byte {pos}"
        payload = data[pos + 12:pos + 12 + length]
        assert len(payload) == length, f"truncated payload at byte {pos}"
        (payload_crc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
        assert payload_crc == masked(crc32c(payload)), f"payload CRC mismatch at byte {pos}"
        records.append(payload)
        pos += 16 + length
    return records


def varint(buf, pos):
    value, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


def fields(buf):
    """(field number, wire type, value) for every field of one message."""
    pos, out = 0, []
    while pos < len(buf):
        key, pos = varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        out.append((number, wire, value))
    return out


def parse_event(buf):
    event = {"values": [], "step": 0}  # proto3: a zero step is not on the wire
    for number, wire, value in fields(buf):
        if number == 1:
            assert wire == 1
            event["wall_time"] = struct.unpack("<d", value)[0]
        elif number == 2:
            event["step"] = value
        elif number == 3:
            event["file_version"] = value.decode()
        elif number == 5:
            for n, _, summary_value in fields(value):
                assert n == 1
                event["values"].append(parse_value(summary_value))
    return event


def parse_value(buf):
    out = {}
    for number, wire, value in fields(buf):
        if number == 1:
            out["tag"] = value.decode()
        elif number == 2:
            assert wire == 5
            out["simple_value"] = struct.unpack("<f", value)[0]
        elif number == 4:
            image = {n: v for n, _, v in fields(value)}
            out["image"] = {"height": image[1], "width": image[2], "colorspace": image[3],
                            "png": image[4]}
    return out


def png_pixels(png):
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height = 8, b"", None, None
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos:pos + 4])
        kind = png[pos + 4:pos + 8]
        body = png[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body), f"PNG chunk {kind} CRC mismatch"
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
            assert body[8:10] == b"\x08\x02", "expected 8-bit RGB"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    assert len(raw) == height * (1 + 3 * width)
    rows = [raw[y * (1 + 3 * width) + 1:(y + 1) * (1 + 3 * width)] for y in range(height)]
    return width, height, rows


def main():
    writer, work = sys.argv[1], sys.argv[2]
    assert crc32c(b"123456789") == 0xE3069283, "CRC-32C check value"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    started = time.time()
    subprocess.run([writer, work], check=True)

    names = [n for n in os.listdir(work) if "tfevents" in n]
    assert len(names) == 1, names
    assert re.fullmatch(r"events\.out\.tfevents\.\d{10}\.[^/]+\.\d+", names[0]), names[0]
    events = [parse_event(r) for r in read_records(os.path.join(work, names[0]))]

    assert events[0].get("file_version") == "brain.Event:2", events[0]
    assert all("file_version" not in e for e in events[1:])
    for e in events:
        assert started - 60 <= e["wall_time"] <= time.time() + 60, e["wall_time"]
    assert any(e["wall_time"] != math.floor(e["wall_time"]) for e in events), \
        "wall times must be fractional seconds"

    scalars = {}
    images = []
    for e in events[1:]:
        assert len(e["values"]) == 1, e
        v = e["values"][0]
        if "image" in v:
            images.append((v["tag"], v["image"]))
        else:
            scalars.setdefault(v["tag"], []).append((e["step"], v["simple_value"]))

    prefix = {"previous": "convergence", "first": "vs_first", "final": "learning_dynamics"}
    expected = {}
    lines = open(os.path.join(work, "convergence.jsonl")).read().splitlines()
    for line in lines:
        r = json.loads(line)
        if r["value"] is None or "reference_layer" in r:
            continue
        tag = f"{prefix[r['reference']]}/{r['metric']}/{r['layer']}"
        expected.setdefault(tag, []).append(
            (r["step"], struct.unpack("<f", struct.pack("<f", r["value"]))[0]))
    assert "convergence/svcca/block<2>&co" in expected
    # Probe records: accuracy, control accuracy and selectivity per layer; class-logit per class.
    f32 = lambda v: struct.unpack("<f", struct.pack("<f", v))[0]
    for line in open(os.path.join(work, "probes.jsonl")).read().splitlines():
        p = json.loads(line)
        if p["probe"] == "linear_probe":
            for key in ("accuracy", "control_accuracy", "selectivity"):
                expected.setdefault(f"probe/{key}/{p['layer']}", []).append(
                    (p["step"], f32(p[key])))
        else:
            expected.setdefault(f"class_logit/{p['layer']}/class_{p['class']}", []).append(
                (p["step"], f32(p["value"])))
    assert "probe/selectivity/block<2>&co" in expected and "class_logit/features.0/class_3" in expected
    for tag, points in expected.items():
        assert scalars.get(tag) == points, f"{tag}: {scalars.get(tag)} != {points}"

    frozen = scalars["freeze/frozen_layers"]
    assert (200, 1.0) in frozen and (300, 2.0) in frozen, frozen
    assert frozen[-1][1] == 2.0 and frozen[0] == (100, 0.0), frozen
    assert [v for _, v in frozen] == sorted(v for _, v in frozen), "count never decreases"
    assert set(scalars) == set(expected) | {"freeze/frozen_layers"}, set(scalars) ^ set(expected)

    assert [t for t, _ in images] == ["similarity_matrix/svcca"], images
    image = images[0][1]
    assert image["colorspace"] == 3
    width, height, rows = png_pixels(image["png"])
    assert (width, height) == (image["width"], image["height"]) == (64, 64), (width, height)
    diagonal = tuple(rows[8][3 * 8:3 * 8 + 3])
    far = tuple(rows[8][3 * 56:3 * 56 + 3])  # features.0 against classifier.0: 0.4
    assert diagonal == (253, 231, 37), f"diagonal pixel {diagonal} is not the top of the scale"
    assert sum(far) < sum(diagonal), (far, diagonal)

    csv_rows = open(os.path.join(work, "convergence.csv")).read().splitlines()
    assert csv_rows[0] == "step,epoch,layer,reference,metric,value,status,low,high"
    assert len(csv_rows) - 1 == len(lines), (len(csv_rows), len(lines))

    n_scalars = sum(len(p) for p in scalars.values())
    print(f"ok: {len(events)} events, {n_scalars} scalars in {len(scalars)} tags, "
          f"{len(images)} image; both CRCs of every record verified")


if __name__ == "__main__":
    main()

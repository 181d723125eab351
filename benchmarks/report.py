"""The machine description and the Markdown rendering of a results dict."""

# License: BSD 3 clause

import datetime
import os
import platform
from importlib import metadata

import torch

#: Packages whose versions go into every report.
PACKAGES = ("skvae", "torch", "scikit-learn", "numpy", "scipy", "pythae")


def _cpu_model():
    """The CPU's model name, from /proc/cpuinfo where there is one."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package):
    """The installed version of ``package``, or None."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine(device):
    """What the numbers were measured on, and when.

    Parameters
    ----------
    device : torch.device
        The device the benchmarks run on.

    Returns
    -------
    info : dict
    """
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2.0**30
    except (ValueError, OSError, AttributeError):
        memory = None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(affinity) if affinity is not None else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_gib": memory,
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        # Other work on the machine slows every side; the load shows how quiet it was.
        "load_average_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "versions": {name: _version(name) for name in PACKAGES},
    }


def _number(value):
    """A measurement as the table shows it: thousands separated, else 3 digits."""
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _relation(result):
    """The ratio column: the ratio, else the difference, else a dash."""
    if result["ratio"] is not None:
        spread = result.get("details", {}).get("ratio_range")
        if spread is None or spread[0] == spread[1]:
            return f"{result['ratio']:.2f}x"
        # The rounds' smallest and largest ratios: how far apart the rounds were.
        return f"{result['ratio']:.2f}x ({spread[0]:.2f}-{spread[1]:.2f})"
    if result["difference"] is not None:
        return f"diff {result['difference']:+.3g}"
    return "-"


def _verdict(status):
    """The result column, with failures in bold so they stand out."""
    return f"**{status}**" if status == "FAIL" else status


def _machine_table(meta):
    """Markdown lines of the machine, load and versions table."""
    info = meta["machine"]
    loads = [info.get("load_average_start"), meta.get("load_average_end")]
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v is not None)
    memory = "-" if info["memory_gib"] is None else f"{info['memory_gib']:.0f} GiB"
    lines = [
        "| machine | |", "|---|---|",
        f"| CPU | {info['cpu']} ({info['cpu_count']} logical CPUs, {info['cpus_usable']} usable, "
        f"torch threads {info['torch_threads']}) |",
        f"| GPU | {info['gpu'] or 'none used'} |",
        f"| memory | {memory} |",
        f"| OS | {info['platform']}, Python {info['python']} |",
        "| load average (1, 5, 15 min) at start; at end | "
        + "; ".join("-" if load is None else ", ".join(f"{x:.2f}" for x in load) for load in loads)
        + " |",
        f"| versions | {versions} |",
    ]
    return lines


def markdown(results):
    """Render a results dict as the Markdown of ``RESULTS.md``.

    Parameters
    ----------
    results : dict
        As written by ``python -m benchmarks`` (``meta`` and ``areas``).

    Returns
    -------
    text : str
    """
    meta = results["meta"]
    statuses = [r["status"] for area in results["areas"].values() for r in area["rows"]]
    lines = [
        "# skvae benchmark results",
        "",
        f"Mode `{meta['mode']}` on device `{meta['machine']['device']}`, "
        f"{meta['machine']['date']}; the run took {meta['seconds']:.0f} s "
        f"(`{meta['command']}`).",
        "",
        f"Targets: {statuses.count('PASS')} PASS, {statuses.count('FAIL')} FAIL "
        f"({len(statuses)} rows). Each comparison runs its sides in turns in one process "
        f"(A B, B A, A B, ...), {meta['repeats']} timed rounds after a warm-up round; the "
        "table shows each side's median and the median over rounds of the ratio skvae / "
        "other within a round, with the smallest and largest round ratio in brackets.",
        "",
        *_machine_table(meta),
    ]
    for number, area in enumerate(results["areas"].values(), start=1):
        lines += [
            "", f"## {number}. {area['title']}", "", area["description"], "",
            "| comparison | unit | skvae | other side | other | skvae / other | target | result |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in area["rows"]:
            lines.append(
                f"| {r['name']} | {r['unit']} | {_number(r['skvae'])} | {r['other_label'] or '-'} "
                f"| {_number(r['other'])} | {_relation(r)} | {r['target'] or '-'} "
                f"| {_verdict(r['status'])} |"
            )
        if area["notes"]:
            lines.append("")
            lines += [f"- {note}" for note in area["notes"]]
        lines += ["", f"Area time: {area['seconds']:.0f} s."]
    return "\n".join(lines) + "\n"

"""Optional plots of a benchmark run (matplotlib): GFLOP/s against size, and the roofline."""

import os


def write_plots(rows, peaks, directory) -> list:
    """PNG files in `directory`; returns their paths (none without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("# --plot: matplotlib is not installed (pip install densecore[plot]); no plots")
        return []
    os.makedirs(directory, exist_ok=True)
    dense = [r for r in rows if r["suite"] == "dense" and "gflops" in r]
    paths = []
    fig, ax = plt.subplots(figsize=(6, 4))
    for op in ("forward", "backward"):
        for backend in sorted({r["backend"] for r in dense}):
            pts = sorted(
                (r["flops"], r["gflops"]) for r in dense if r["op"] == op and r["backend"] == backend
            )
            if pts:
                ax.plot(*zip(*pts), "o-" if op == "forward" else "s--", label=f"{backend} {op}")
    ax.set_xscale("log")
    ax.set_xlabel("FLOPs per call")
    ax.set_ylabel("GFLOP/s")
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(os.path.join(directory, "gflops_vs_size.png"))
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    intensity = [0.1 * 1.25**i for i in range(60)]
    roof = [min(peaks["gflops"], peaks["gbytes_per_s"] * x) for x in intensity]
    ax.plot(intensity, roof, "k-", label="roofline (measured sgemm and copy)")
    for r in dense:
        ax.plot(r["flops"] / r["bytes"], r["gflops"], "o", label=f"{r['backend']} {r['op']} {r['case']}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("GFLOP/s")
    ax.legend(fontsize=5, ncol=2)
    fig.tight_layout()
    paths.append(os.path.join(directory, "roofline.png"))
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths

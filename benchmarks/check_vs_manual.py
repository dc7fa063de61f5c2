"""Benchmark: `etcdtui check` time to the complete verdict against the commands an operator types for the
same facts, run alternately on a lab:

  kubectl get pods -n kube-system -l component=etcd -o wide
  kubectl get nodes -o wide
  kubectl get pods ... -o jsonpath=<the guide's dump of each etcd pod's command>   (corruption-check flags)
  kubectl exec -n kube-system <etcd pod> -c etcd -- etcdctl <certs> member list -w json
  ... endpoint status --cluster, endpoint health --cluster, alarm list, endpoint hashkv --cluster

The manual side runs the commands one after the other, as typed (without the typing). Target: ratio <= 0.8.
Starts a fresh lab in a temp dir unless `--kubeconfig` points at a running one.
Run: python benchmarks/check_vs_manual.py [--rounds N] [--kubeconfig K]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

from _bench_lab import compile_bytecode, lab_kubeconfig, timed

# The guide's flag dump (kubeone-procedure.md, "check the flags").
FLAGS_JSONPATH = ('{range .items[*]}{.metadata.name}: {range .spec.containers[0].command[*]}{}{"\\n"}{end}'
                  '{"\\n"}{end}')


def manual_commands(kubectl: str, env: dict[str, str]) -> list[list[str]]:
    from etcdtui.cluster.etcdctl_exec import target_from_pod
    from etcdtui.core import etcdctl as ec

    pods = json.loads(subprocess.run(
        [kubectl, "get", "pods", "-n", "kube-system", "-l", "component=etcd", "-o", "json"], env=env,
        capture_output=True, check=True, text=True).stdout)["items"]
    pod = pods[0]
    target = target_from_pod(pod["metadata"]["name"], "kube-system", pod["spec"]["containers"][0]["command"])
    exec_prefix = [kubectl, "exec", "-n", "kube-system", target.pod, "-c", "etcd", "--"]
    etcdctl = [[*exec_prefix, *ec.etcdctl_argv(target.connection, q)] for q in (
        ec.Query.MEMBER_LIST, ec.Query.ENDPOINT_STATUS, ec.Query.ENDPOINT_HEALTH, ec.Query.ALARM_LIST,
        ec.Query.ENDPOINT_HASHKV)]
    return [
        [kubectl, "get", "pods", "-n", "kube-system", "-l", "component=etcd", "-o", "wide"],
        [kubectl, "get", "nodes", "-o", "wide"],
        [kubectl, "get", "pods", "-n", "kube-system", "-l", "component=etcd", "-o", f"jsonpath={FLAGS_JSONPATH}"],
        *etcdctl,
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--kubeconfig", help="a running lab's kubeconfig (default: start a fresh lab)")
    args = parser.parse_args()
    compile_bytecode()
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        print("kubectl not found: cannot compare", file=sys.stderr)
        return 3
    with lab_kubeconfig(args.kubeconfig, "etcdtui-bench-manual-") as kubeconfig:
        env = {**os.environ, "KUBECONFIG": kubeconfig}
        manual = manual_commands(kubectl, env)
        check = [[sys.executable, "-m", "etcdtui", "check", "--json"]]
        timed(check, env)  # warm the page cache for both sides once
        timed(manual, env)
        check_times, manual_times = [], []
        for i in range(args.rounds):
            t_check, rc_check = timed(check, env)
            t_manual, rc_manual = timed(manual, env)
            check_times.append(t_check)
            manual_times.append(t_manual)
            print(f"round {i + 1}: etcdtui check {t_check:.3f} s (rc {rc_check[0]})   "
                  f"manual {len(manual)} commands {t_manual:.3f} s (rc {sorted(set(rc_manual))})")
        med_check, med_manual = statistics.median(check_times), statistics.median(manual_times)
        print(f"median: etcdtui check {med_check:.3f} s, manual commands {med_manual:.3f} s, "
              f"ratio {med_check / med_manual:.2f} (target <= 0.8)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

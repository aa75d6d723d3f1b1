"""How many rounds the Spark target's label propagation needs on a bench warehouse.

``python -m bench.identity_rounds --dir <bench size folder>`` takes the identity graph the
DuckDB model builds (the compiled ``int_identity__identifiers``, full refresh: its nodes
with their labels and its undirected edges) and runs on it the rounds the Spark target
runs (dbt/macros/identity/components.sql: each node takes the smallest label of itself
and its neighbours, until a round changes nothing), here in DuckDB. The rounds are a
property of the graph, not of the engine; the Spark build of the same graph logs the
same count (``identity: labels settled after N rounds``). Prints each round's changed
labels and checks the settled labels against the recursive CTE's components.
"""

import argparse
import json
import time
from pathlib import Path

import duckdb

from dagster_project.transform import run_dbt


def compiled_model(warehouse: Path, work: Path) -> str:
    run_dbt(
        "compile", "--full-refresh", "--select", "int_identity__identifiers",
        warehouse=warehouse, work_dir=work,
    )  # fmt: skip
    path = next((work / "dbt_target" / "compiled").rglob("int_identity__identifiers.sql"))
    return path.read_text()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dir", type=Path, required=True)
    a = p.parse_args()
    warehouse = a.dir.resolve() / "warehouse.duckdb"
    sql = compiled_model(warehouse, a.dir.resolve())
    graph = sql[: sql.index("components (node_id, label) using key")].rstrip().rstrip(",")
    conn = duckdb.connect(str(warehouse), read_only=True)
    conn.execute("set memory_limit = '3GB'")
    started = time.perf_counter()
    conn.execute(f"create temp table nodes as {graph} select node_id, label from nodes")
    conn.execute(
        f"create temp table edges as {graph} "
        "select distinct from_node, to_node from undirected_edges"
    )
    nodes = conn.execute("select count(*) from nodes").fetchone()[0]
    edges = conn.execute("select count(*) from edges").fetchone()[0]
    conn.execute("create temp table round_0 as select node_id, label from nodes")
    rounds = []
    while not rounds or rounds[-1][1] > 0:
        n = len(rounds) + 1
        conn.execute(
            f"""
            create temp table round_{n} as
            select
                nodes.node_id,
                least(nodes.label, coalesce(min(neighbours.label), nodes.label)) as label
            from round_{n - 1} as nodes
            left join edges on edges.from_node = nodes.node_id
            left join round_{n - 1} as neighbours on neighbours.node_id = edges.to_node
            group by nodes.node_id, nodes.label
            """
        )
        changed = conn.execute(
            f"select count(*) from round_{n - 1} as b join round_{n} as a using (node_id) "
            "where a.label <> b.label"
        ).fetchone()[0]
        conn.execute(f"drop table round_{n - 1}")
        rounds.append((n, changed))
        print(f"round {n}: {changed:,} labels changed", flush=True)
    # the rounds' labels against the model's own components (the recursive CTE)
    final = f"round_{rounds[-1][0]}"
    differ = conn.execute(
        f"""
        {sql[: sql.index("anchored as (")].rstrip().rstrip(",")}
        select count(*) from components join {final} as r using (node_id)
        where r.label <> components.label
        """
    ).fetchone()[0]
    out = {
        "nodes": nodes,
        "directed_edges": edges,
        "rounds": len(rounds),
        "changed_per_round": [c for _, c in rounds],
        "labels_differing_from_the_recursive_cte": differ,
        "seconds": round(time.perf_counter() - started, 1),
    }
    print("BENCH " + json.dumps(out))


if __name__ == "__main__":
    main()

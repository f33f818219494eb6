"""The ``fashiontag`` command: local stack, offline classification, uploads, products, demo."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from fashiontag import config, contract


def _stack_config(args: argparse.Namespace) -> Any:
    from fashiontag.local import stack

    return stack.StackConfig.from_env(args.state_dir, args.port_base)


def _use_stack_env(args: argparse.Namespace) -> None:
    """Point the clients at the running local stack unless the environment already does."""
    from fashiontag.local import stack

    if os.environ.get("FIRESTORE_EMULATOR_HOST") or os.environ.get("FASHIONTAG_USE_CLOUD"):
        return
    cfg = _stack_config(args)
    env = stack.load_env_file(cfg.env_file)
    if not env:
        sys.exit(f"no local stack found ({cfg.env_file} missing): run 'fashiontag stack up' first")
    for key, value in env.items():
        os.environ.setdefault(key, value)


# --- stack ----------------------------------------------------------------------------------


def cmd_stack(args: argparse.Namespace) -> int:
    from fashiontag.local import stack

    cfg = _stack_config(args)
    if args.action == "up":
        env = stack.up(cfg)
        print(f"stack up; environment in {cfg.env_file}")
        for key, value in env.items():
            print(f"  {key}={value}")
    elif args.action == "down":
        stopped = stack.down(cfg)
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    else:
        rows = stack.status(cfg)
        for name, row in rows.items():
            state = "running" if row["pid"] else "stopped"
            answering = "answering" if row["answering"] else "-"
            print(f"{name:<10} {state:<8} pid={row['pid'] or '-':<8} port={row['port'] or '-'} {answering}")
        return 0 if all(r["pid"] for r in rows.values()) else 3
    return 0


# --- classify -------------------------------------------------------------------------------


def classify_file(path: Path, model_dir: Path | None) -> dict[str, Any]:
    """The JSON record of ``fashiontag classify`` for one file; never raises for bad input."""
    from fashiontag.classification import record, rejected
    from fashiontag.errors import Rejection
    from fashiontag.inference import get_category_model

    try:
        data = path.read_bytes()
    except OSError as error:
        reason = Rejection("unreadable_file", f"The file cannot be read: {error.strerror or error}.")
        return {"file": str(path), **rejected(reason)}
    return {"file": str(path), **record(data, get_category_model(model_dir))}


def cmd_classify(args: argparse.Namespace) -> int:
    for path in _expand(args.files):
        record = classify_file(path, args.model_dir)
        if args.json:
            print(json.dumps(record, ensure_ascii=False), flush=True)
        elif record["status"] == "ok":
            c = record["category"]
            alts = ", ".join(f"{t['label']} {t['confidence']:.2f}" for t in c["top"][1:])
            reason = record["review_reason"]
            verdict = "accepted" if reason is None else f"to review [{reason['code']}]"
            print(f"{path}: {c['label']} ({c['confidence']:.2f}; then {alts}) {verdict}")
        else:
            print(f"{path}: rejected [{record['rejection']['code']}] {record['rejection']['message']}")
    return 0


def _expand(paths: Sequence[Path]) -> Iterator[Path]:
    """Files as given, folders walked in order; hidden files inside folders are skipped."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not any(p.startswith(".") for p in child.relative_to(path).parts):
                    yield child
        else:
            yield path


def cmd_evaluate(args: argparse.Namespace) -> int:
    from fashiontag import evaluation
    from fashiontag.inference import get_category_model

    try:
        result = evaluation.evaluate_folder(args.folder, get_category_model(args.model_dir))
    except ValueError as error:
        sys.exit(str(error))
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    aa = result["auto_accept"]
    precision = "-" if aa["precision"] is None else f"{aa['precision']:.2%}"
    print(f"{result['folder']}: {result['count']} photos, model {result['model']['name']} {result['model']['version']}")
    print(f"accuracy            {result['accuracy']:.2%}" if result["count"] else "accuracy            -")
    print(f"auto-accepted       {aa['share']:.1%} (confidence >= {aa['threshold']:.4f}), precision {precision}")
    print(f"no garment found    {result['no_garment_found']}; refused files {len(result['rejected'])}")
    print("per class:")
    for name, r in result["per_class"].items():
        print(f"  {name:<12} {r['accuracy']:7.2%}  of {r['count']}")
    if result["confusions"]:
        print("most confused (true -> predicted):")
        for c in result["confusions"][:8]:
            print(f"  {c['true']:<12} -> {c['predicted']:<12} {c['count']}")
    return 0


# --- upload and products --------------------------------------------------------------------


def cmd_upload(args: argparse.Namespace) -> int:
    from fashiontag.tools import uploads

    _use_stack_env(args)
    files = list(_expand(args.paths))
    missing = [p for p in files if not p.is_file()]
    if missing:
        sys.exit("not found: " + ", ".join(map(str, missing)))
    done = uploads.upload_files(files, args.seller, progress=not args.quiet)
    for item in done:
        print(f"gs://{item.bucket}/{item.name}  product {item.product_id}")
    return 0


def cmd_products(args: argparse.Namespace) -> int:
    from fashiontag import products

    _use_stack_env(args)
    rows = sorted(products.list_products(args.status), key=lambda p: str(p.get("created_at", "")))
    if args.json:
        for product in rows:
            print(json.dumps(product, default=str, ensure_ascii=False))
        return 0
    print(f"{'product':<12} {'seller':<14} {'status':<13} {'category':<12} {'conf':>5}  file")
    for p in rows:
        category = p.get("prediction", {}).get("category", {})
        label = category.get("label") or p.get("rejection", {}).get("code", "")
        conf = f"{category['confidence']:.2f}" if "confidence" in category else ""
        name = p.get("image", {}).get("name", "").split("/", 2)[-1]
        seller, status = p.get("seller_id", ""), p.get("status", "")
        print(f"{p['id'][:12]:<12} {seller:<14} {status:<13} {label:<12} {conf:>5}  {name}")
    return 0


# --- model registry -------------------------------------------------------------------------


def cmd_models(args: argparse.Namespace) -> int:
    from fashiontag import registry

    _use_stack_env(args)
    by = args.by or os.environ.get("USER", "cli")
    try:
        if args.action == "list":
            active = registry.active_version(args.model)
            for v in registry.list_versions(args.model):
                accuracy = v.get("metrics", {}).get("frozen_eval", {}).get("accuracy")
                shown = f"{accuracy:.2%}" if isinstance(accuracy, float) else "-"
                mark = "*" if v["version"] == active else " "
                status, created = v.get("status", ""), v.get("created_at", "")
                print(f"{mark} {v['version']:<24} {status:<10} frozen-eval {shown:>7}  {created}")
        elif args.action == "show":
            version = args.version or registry.active_version(args.model)
            record = registry.get_version(args.model, version) if version else None
            if record is None:
                sys.exit(f"{args.model} {version}: not registered")
            print(json.dumps(record, indent=2, default=str))
        elif args.action == "promote":
            if not args.version:
                sys.exit("promote needs a VERSION")
            print(json.dumps(registry.promote(args.model, args.version, by, reason=args.reason or "")))
        elif args.action == "register":
            if not args.dir:
                sys.exit("register needs --dir, a trained model folder")
            meta = json.loads((args.dir / "model.json").read_text())
            report = json.loads((args.dir / "report.json").read_text())
            record = registry.register(
                meta["name"], meta["version"], args.dir, registry.summary_metrics(report), report.get("data", {})
            )
            print(f"registered {meta['name']} {meta['version']} ({record['status']}); promote it to serve it")
        elif args.action == "rollback":
            print(json.dumps(registry.rollback(args.model, by)))
        elif args.action == "delete":
            if not args.version:
                sys.exit("delete needs a VERSION")
            registry.delete(args.model, args.version)
            print(f"deleted {args.model} {args.version}")
    except registry.RegistryError as error:
        sys.exit(str(error))
    return 0


def cmd_retrain(args: argparse.Namespace) -> int:
    from fashiontag import retraining

    _use_stack_env(args)
    params = {"epochs": args.epochs}
    for key in ("bootstrap_limit", "synthetic", "eval_renders"):
        if getattr(args, key) is not None:
            params[key] = getattr(args, key)
    request_id = retraining.request(args.model, os.environ.get("USER", "cli"), "cli", **params)
    print(f"retrain request {request_id} published")
    if not args.wait:
        return 0
    run = retraining.wait_for_run(request_id, args.wait, poll_s=2)
    if run is None:
        print(f"still running after {args.wait} s; see: fashiontag models list")
        return 1
    print(json.dumps({k: run.get(k) for k in ("status", "outcome", "result", "error", "reason")}, default=str))
    return 0 if run["status"] != retraining.FAILED else 1


# --- users ----------------------------------------------------------------------------------


def cmd_users(args: argparse.Namespace) -> int:
    from fashiontag.admin import identity
    from fashiontag.admin.errors import ApiError

    _use_stack_env(args)
    if args.action == "list":
        for user in identity.list_users(args.role):
            print(f"{user['uid']:<30} {user.get('role', ''):<8} {user.get('email', '')}")
        return 0
    if not args.email or not args.role:
        sys.exit("usage: fashiontag users add EMAIL --role manager|seller|buyer [--password P] [--name N]")
    if args.password is not None and len(args.password) < 6:
        sys.exit("a password needs at least 6 characters")
    try:
        added = identity.add_user(args.email, args.role, args.password, args.name, args.uid)
    except ApiError as error:
        sys.exit(error.message)
    print(f"{'created' if added.created else 'updated'} {added.email}: role {added.role}, uid {added.uid}")
    if added.password:
        print(f"  password: {added.password}")
    return 0


# --- training and demo ----------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    if args.model == config.CATEGORY_MODEL_NAME:
        from fashiontag.training import baseline

        baseline.run(
            args.out,
            epochs=args.epochs,
            seed=args.seed,
            limit=args.limit,
            start_from=args.start_from,
            learning_rate=args.learning_rate,
            rounds=args.render_rounds,
        )
    else:
        from fashiontag.training import attributes

        if "verified" in args.data:
            _use_stack_env(args)
        category = config.attribute_model_category(args.model)
        cfg = attributes.AttributeTrainConfig(
            epochs=args.epochs or attributes.AttributeTrainConfig.epochs,
            seed=args.seed,
            synthetic=(args.limit or attributes.AttributeTrainConfig.synthetic) if "synthetic" in args.data else 0,
            verified="verified" in args.data,
        )
        attributes.train(category, cfg, args.out)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from fashiontag.tools import demo

    return demo.run(_stack_config(args), once=args.once, count=args.count)


# --- nothing lost ---------------------------------------------------------------------------


def cmd_reconcile(args: argparse.Namespace) -> int:
    from fashiontag import reconciler

    _use_stack_env(args)
    print(json.dumps(reconciler.reconcile().as_dict()))
    return 0


def cmd_catalogue(args: argparse.Namespace) -> int:
    from fashiontag.admin import catalogue

    _use_stack_env(args)
    print(json.dumps(catalogue.rebuild()))
    return 0


def cmd_dead_letters(args: argparse.Namespace) -> int:
    from fashiontag import dead_letters, reconciler

    _use_stack_env(args)
    dead_letters.collect()
    if args.action == "replay":
        done = reconciler.replay_dead_letters(args.limit)
        for item in done:
            print(f"{item['id']}  {item['topic']:<28} {item['outcome']}")
        return 1 if any(item["outcome"].startswith("failed") for item in done) else 0
    for letter in dead_letters.waiting(args.limit):
        attributes = letter.get("attributes") or {}
        what = attributes.get("type") or attributes.get("eventType") or "-"
        print(f"{letter['id']}  {letter['topic']:<28} {what:<20} published {letter.get('published_at')}")
    print(f"{dead_letters.waiting_count()} waiting")
    return 0


# --- parser ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fashiontag", description=__doc__)
    stack_opts = argparse.ArgumentParser(add_help=False)
    stack_opts.add_argument("--state-dir", type=Path, default=None, help="default: .fashiontag")
    stack_opts.add_argument("--port-base", type=int, default=None, help="default: 9400")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("stack", parents=[stack_opts], help="start, stop or inspect the local stack")
    p.add_argument("action", choices=["up", "down", "status"])
    p.set_defaults(func=cmd_stack)

    p = sub.add_parser("classify", help="classify image files offline (no emulators)")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--json", action="store_true", help="one JSON object per line per file")
    p.add_argument("--model-dir", type=Path, default=None)
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("evaluate", help="score a folder of photos with labels.csv (file,label) offline")
    p.add_argument("folder", type=Path)
    p.add_argument("--json", action="store_true")
    p.add_argument("--model-dir", type=Path, default=None)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("upload", parents=[stack_opts], help="upload files or folders as a seller")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--seller", required=True)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_upload)

    p = sub.add_parser("products", parents=[stack_opts], help="list products")
    p.add_argument("--status", choices=contract.STATUSES)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_products)

    p = sub.add_parser("reconcile", parents=[stack_opts], help="re-drive uploads without a finished product")
    p.set_defaults(func=cmd_reconcile)

    p = sub.add_parser("catalogue", parents=[stack_opts], help="rebuild the buyers' published view from the products")
    p.add_argument("action", choices=["rebuild"])
    p.set_defaults(func=cmd_catalogue)

    p = sub.add_parser("dead-letters", parents=[stack_opts], help="list or replay what ended in a dead-letter topic")
    p.add_argument("action", choices=["list", "replay"])
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(func=cmd_dead_letters)

    p = sub.add_parser("models", parents=[stack_opts], help="the model registry")
    p.add_argument("action", choices=["list", "show", "register", "promote", "rollback", "delete"])
    p.add_argument("version", nargs="?")
    p.add_argument("--model", default=config.CATEGORY_MODEL_NAME)
    p.add_argument("--by", default=None, help="who does it (default: $USER)")
    p.add_argument("--reason", default=None, help="why (required to force a rejected version)")
    p.add_argument("--dir", type=Path, default=None, help="register: the trained model's folder")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("users", parents=[stack_opts], help="add or list accounts (Firebase Auth, role claim)")
    p.add_argument("action", choices=["add", "list"])
    p.add_argument("email", nargs="?")
    p.add_argument("--role", choices=["manager", "seller", "buyer"])
    p.add_argument("--password", default=None, help="default for a new account: a generated one, printed")
    p.add_argument("--name", default=None, help="display name (default: the email's local part)")
    p.add_argument("--uid", default=None, help="the uid of a new account (default: one Firebase picks)")
    p.set_defaults(func=cmd_users)

    p = sub.add_parser("retrain", parents=[stack_opts], help="request a retraining run on the stack")
    p.add_argument("--model", default=config.CATEGORY_MODEL_NAME, help="category or attributes-trouser")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bootstrap-limit", type=int, default=None, help="Fashion-MNIST images to include")
    p.add_argument("--synthetic", type=int, default=None, help="attribute models: synthetic renders to train on")
    p.add_argument("--eval-renders", type=int, default=None, help="attribute models: renders in the frozen set")
    p.add_argument("--wait", type=int, default=0, help="seconds to wait for the outcome")
    p.set_defaults(func=cmd_retrain)

    p = sub.add_parser("train", parents=[stack_opts], help="train a model (imports TensorFlow)")
    p.add_argument("model", choices=[config.CATEGORY_MODEL_NAME, config.attribute_model_name("trouser")])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--epochs", type=int, default=None, help="default: the model's training config")
    p.add_argument("--seed", type=int, default=20261130)
    p.add_argument("--limit", type=int, default=None, help="train on N images only (synthetic renders for attributes)")
    p.add_argument("--start-from", type=Path, default=None, help="category: continue from this model.keras")
    p.add_argument("--learning-rate", type=float, default=None, help="category: the schedule's first rate")
    p.add_argument(
        "--render-rounds", type=int, default=1, help="category: render the training garments this many times over"
    )
    p.add_argument(
        "--data",
        choices=["synthetic", "verified", "synthetic+verified"],
        default="synthetic",
        help="attribute models: synthetic renders, verified products (from the stack), or both",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("demo", parents=[stack_opts], help="upload sample photos and show the results")
    p.add_argument("--once", action="store_true", help="exit after the table")
    p.add_argument("--count", type=int, default=100)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

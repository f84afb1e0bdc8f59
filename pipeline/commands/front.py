"""What every command works with: the settings, the console, the config and the target.

The settings come from the flags; the config is loaded, the definition built and the target
made on first use only, through the callables run_pipeline.py's services hand in (the real
ones by default, fakes in tests). So ``--definition`` never makes a target, a command reads
its own flags (say, ``--param``) before the config is loaded, and nothing below the parser
sees an ``argparse.Namespace``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.config import DEFAULT_CONFIG_PATH, PipelineConfig
from pipeline.console import Console
from pipeline.core.records import LineListener, PipelineDefinition
from pipeline.targets.base import Target

ConfigLoader = Callable[[Path, Mapping[str, str]], PipelineConfig]
Builder = Callable[[PipelineConfig], PipelineDefinition]
TargetMaker = Callable[[PipelineConfig, LineListener | None], Target]


@dataclass(frozen=True)
class Settings:
    """Where a command works: the config file, the flags that override its keys, --json."""

    config: Path = DEFAULT_CONFIG_PATH
    target: str | None = None
    region: str | None = None
    bucket: str | None = None
    role_arn: str | None = None
    store_root: str | None = None
    json: bool = False
    module_name: str | None = None  # --module-name: the pipeline module (default: moonpipe's)
    kwargs: str | None = None  # --kwargs: its get_pipeline arguments, a JSON object

    def config_overrides(self) -> dict[str, str]:
        """The flags that override config keys, only those given."""
        given = {
            "target": self.target,
            "region": self.region,
            "bucket": self.bucket,
            "role_arn": self.role_arn,
            "store_root": self.store_root,
        }
        return {key: value for key, value in given.items() if value is not None}


class Front:
    """One invocation's console, and its config and target, each made once when first asked."""

    def __init__(
        self,
        settings: Settings,
        console: Console,
        load_config: ConfigLoader,
        build_pipeline: Builder,
        make_target: TargetMaker,
    ) -> None:
        self.settings, self.console = settings, console
        self._load_config, self._build, self._make_target = load_config, build_pipeline, make_target
        self._config: PipelineConfig | None = None
        self._target: Target | None = None
        self._built: PipelineDefinition | None = None

    def config(self) -> PipelineConfig:
        """The validated config, the settings' overrides applied (and --module-name's)."""
        if self._config is None:
            cfg = self._load_config(self.settings.config, self.settings.config_overrides())
            if self.settings.module_name is not None or self.settings.kwargs is not None:
                cfg = self._with_module(cfg)
            self._config = cfg
        return self._config

    def _with_module(self, cfg: PipelineConfig) -> PipelineConfig:
        """The config naming the pipeline module to build and the name its pipeline has.

        Every command but a build works on the stored pipeline by name, so the name is
        known without the SDK when possible (``--kwargs``' pipeline_name, or get_pipeline's
        default for it); else the module is built once to learn it.
        """
        from pipeline.assembly.module_names import (
            DEFAULT_MODULE,
            check_module_name,
            checked_pipeline_name,
            module_pipeline_name,
            parse_kwargs,
        )

        module = check_module_name(self.settings.module_name or DEFAULT_MODULE)
        kwargs = parse_kwargs(self.settings.kwargs)
        cfg = replace(cfg, module_name=module, module_kwargs=json.dumps(kwargs, sort_keys=True))
        if module == DEFAULT_MODULE:
            name = kwargs.get("pipeline_name") or cfg.pipeline.name
        else:
            name = module_pipeline_name(module, kwargs)
        if name is None:
            self._built = self._build(cfg)
            name = self._built.name
        return replace(cfg, pipeline=replace(cfg.pipeline, name=checked_pipeline_name(name)))

    def definition(self) -> PipelineDefinition:
        """The pipeline built from the config (the only path that loads the SageMaker SDK)."""
        cfg = self.config()
        if self._built is None:
            self._built = self._build(cfg)
        return self._built

    def target(self, on_line: LineListener | None = None) -> Target:
        """The config's target; ``on_line`` gets each line a job prints (--follow)."""
        if self._target is None:
            self._target = self._make_target(self.config(), on_line)
            self.console.store = self._target.store  # every result names the store it used
        return self._target

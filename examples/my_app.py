"""Scenario 1 of the documentation: a dataclass config and a task that prints."""

from dataclasses import dataclass

from hydra.core.config_store import ConfigStore


@dataclass
class MyExperiment:
    foo: str = "hello"
    bar: str = "world"


cs = ConfigStore.instance()
# Registering the Config class with the name 'config', as the documentation does.
cs.store(name="config", node=MyExperiment)


def task_function(cfg: MyExperiment) -> str:
    message = cfg.foo + " " + cfg.bar
    print(message)
    return message

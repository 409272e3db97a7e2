"""Build hooks on top of setup.cfg: ship the start-up file ``lm_eval_compression.pth`` into site-packages.

The file lets ``lm_eval`` find the compression tasks without ``--include_path``
(see :mod:`lm_eval_compression.discovery`). A wheel installs everything in its root into site-packages, so
``build_py`` copies the file there; an editable install instead packs what the ``install`` command is pointed
at, so in editable mode the file goes to ``install_lib``. ``pip uninstall`` removes it with the rest (it is in
the wheel's RECORD).
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PTH = Path(__file__).parent / "lm_eval_compression.pth"


class build_py_with_pth(build_py):  # noqa: N801 (setuptools command naming)
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            target = self.get_finalized_command("install").install_lib
        else:
            target = self.build_lib
        self.copy_file(str(PTH), str(Path(target, PTH.name)), preserve_mode=False)

    def get_outputs(self, include_bytecode=True):
        outputs = super().get_outputs(include_bytecode)
        return outputs if getattr(self, "editable_mode", False) else [*outputs, str(Path(self.build_lib, PTH.name))]


setup(cmdclass={"build_py": build_py_with_pth})

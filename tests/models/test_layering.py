import subprocess
import sys


def test_models_import_no_config_or_cli_libraries():
    # DESIGN.md: asffbench.models sees no config; a fresh interpreter shows what it pulls in.
    code = (
        "import sys, asffbench.models\n"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & {'hydra', 'omegaconf', 'typer'})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""

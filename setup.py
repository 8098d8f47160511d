"""Installs the `alexnet` library; tools/ and scripts/ run from the checkout."""

from setuptools import find_packages, setup

setup(
    name="alexnet-gtsrb",
    version="0.1.0",
    description=("AlexNet on GTSRB: train, evaluate, freeze, transform and "
                 "convert to TensorFlow Lite on TensorFlow 2.21"),
    python_requires=">=3.10",
    packages=find_packages(include=["alexnet", "alexnet.*"]),
    install_requires=[
        "tensorflow==2.21.*",
        "numpy",
        "pillow",
        "absl-py",
        # See BUILD.md for why each of these is needed.
        "tqdm",
        "matplotlib",
        "ai-edge-litert",
        "tensorboard==2.21.*",
    ],
    extras_require={"test": ["pytest", "mediapipe==1.2.*"]},
)

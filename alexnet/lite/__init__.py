"""TensorFlow Lite: conversion, quantization, metadata, evaluation, comparison."""

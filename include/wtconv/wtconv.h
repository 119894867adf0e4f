#pragma once
// Umbrella header: the whole public API of wtconv.
#include <wtconv/context.h>
#include <wtconv/cuda_memory.h>
#include <wtconv/device.h>
#include <wtconv/dtype.h>
#include <wtconv/error.h>
#include <wtconv/io/safetensors.h>
#include <wtconv/layer.h>
#include <wtconv/layers/conv2d.h>
#include <wtconv/layers/wtconv.h>
#include <wtconv/ops/conv2d.h>
#include <wtconv/ops/wtconv.h>
#include <wtconv/ops/wtconv1d.h>
#include <wtconv/ops/wtconv2d.h>
#include <wtconv/shape.h>
#include <wtconv/tensor.h>
#include <wtconv/wavelets.h>

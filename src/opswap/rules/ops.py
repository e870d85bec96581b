"""Typed ``op.<OpType>`` methods for rules: one per ai.onnx op of onnx 1.23.2.

Written by ``scripts/rule_ops.py`` from onnx's op schemas; do not edit (``tests/test_rule_ops.py``
holds it equal to what the script writes). Inputs are positional: a Python number becomes a constant
of the tensor inputs' element type, None an omitted optional input. Attributes are keyword-only and
are the union over the op's versions: the builder emits the op at the model's opset, and an
attribute that version does not have is the checker's error. An op with more than one output in
some version returns a tuple; ``outputs`` says how many are wanted.
"""

# ruff: noqa: E741

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import onnx

from opswap.rules.values import Input, Value


def _present(*inputs: Input) -> tuple[Input, ...]:
    """The inputs without trailing omitted ones (ONNX lets trailing optional inputs be left out)."""
    end = len(inputs)
    while end and inputs[end - 1] is None:
        end -= 1
    return inputs[:end]


def _given(**attributes: Any) -> dict[str, Any]:
    """The attributes a call sets (None: not set, the op's default applies)."""
    return {name: value for name, value in attributes.items() if value is not None}


class Ops:
    """The ai.onnx ops as methods; a subclass says how one node is emitted (``emit``, ``emit_many``)."""

    def emit(self, op_type: str, *inputs: Input, **attributes: Any) -> Value:
        """Emit one node with one output and return it."""
        raise NotImplementedError

    def emit_many(self, op_type: str, *inputs: Input, outputs: int, **attributes: Any) -> tuple[Value, ...]:
        """Emit one node with ``outputs`` outputs and return them."""
        raise NotImplementedError

    def Abs(
        self,
        X: Input,
        /,
        *,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``Abs`` (versions 1, 6, 13)."""
        attributes = _given(
            consumed_inputs=consumed_inputs,
        )
        return self.emit("Abs", *_present(X), **attributes)

    def Acos(
        self,
        input: Input,
        /,
    ) -> Value:
        """``Acos`` (versions 7, 22)."""
        return self.emit("Acos", *_present(input))

    def Acosh(
        self,
        input: Input,
        /,
    ) -> Value:
        """``Acosh`` (versions 9, 22)."""
        return self.emit("Acosh", *_present(input))

    def Add(
        self,
        A: Input,
        B: Input,
        /,
        *,
        axis: int | None = None,
        broadcast: int | None = None,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``Add`` (versions 1, 6, 7, 13, 14)."""
        attributes = _given(
            axis=axis,
            broadcast=broadcast,
            consumed_inputs=consumed_inputs,
        )
        return self.emit("Add", *_present(A, B), **attributes)

    def AffineGrid(
        self,
        theta: Input,
        size: Input,
        /,
        *,
        align_corners: int | None = None,
    ) -> Value:
        """``AffineGrid`` (versions 20)."""
        attributes = _given(
            align_corners=align_corners,
        )
        return self.emit("AffineGrid", *_present(theta, size), **attributes)

    def And(
        self,
        A: Input,
        B: Input,
        /,
        *,
        axis: int | None = None,
        broadcast: int | None = None,
    ) -> Value:
        """``And`` (versions 1, 7)."""
        attributes = _given(
            axis=axis,
            broadcast=broadcast,
        )
        return self.emit("And", *_present(A, B), **attributes)

    def ArgMax(
        self,
        data: Input,
        /,
        *,
        axis: int | None = None,
        keepdims: int | None = None,
        select_last_index: int | None = None,
    ) -> Value:
        """``ArgMax`` (versions 1, 11, 12, 13)."""
        attributes = _given(
            axis=axis,
            keepdims=keepdims,
            select_last_index=select_last_index,
        )
        return self.emit("ArgMax", *_present(data), **attributes)

    def ArgMin(
        self,
        data: Input,
        /,
        *,
        axis: int | None = None,
        keepdims: int | None = None,
        select_last_index: int | None = None,
    ) -> Value:
        """``ArgMin`` (versions 1, 11, 12, 13)."""
        attributes = _given(
            axis=axis,
            keepdims=keepdims,
            select_last_index=select_last_index,
        )
        return self.emit("ArgMin", *_present(data), **attributes)

    def Asin(
        self,
        input: Input,
        /,
    ) -> Value:
        """``Asin`` (versions 7, 22)."""
        return self.emit("Asin", *_present(input))

    def Asinh(
        self,
        input: Input,
        /,
    ) -> Value:
        """``Asinh`` (versions 9, 22)."""
        return self.emit("Asinh", *_present(input))

    def Atan(
        self,
        input: Input,
        /,
    ) -> Value:
        """``Atan`` (versions 7, 22)."""
        return self.emit("Atan", *_present(input))

    def Atanh(
        self,
        input: Input,
        /,
    ) -> Value:
        """``Atanh`` (versions 9, 22)."""
        return self.emit("Atanh", *_present(input))

    def Attention(
        self,
        Q: Input,
        K: Input,
        V: Input,
        attn_mask: Input = None,
        past_key: Input = None,
        past_value: Input = None,
        nonpad_kv_seqlen: Input = None,
        /,
        *,
        is_causal: int | None = None,
        kv_num_heads: int | None = None,
        left_window_size: int | None = None,
        q_num_heads: int | None = None,
        qk_matmul_output_mode: int | None = None,
        right_window_size: int | None = None,
        scale: float | None = None,
        softcap: float | None = None,
        softmax_precision: int | None = None,
        outputs: int = 1,
    ) -> tuple[Value, ...]:
        """``Attention`` (versions 23, 24, 25)."""
        attributes = _given(
            is_causal=is_causal,
            kv_num_heads=kv_num_heads,
            left_window_size=left_window_size,
            q_num_heads=q_num_heads,
            qk_matmul_output_mode=qk_matmul_output_mode,
            right_window_size=right_window_size,
            scale=scale,
            softcap=softcap,
            softmax_precision=softmax_precision,
        )
        return self.emit_many(
            "Attention",
            *_present(Q, K, V, attn_mask, past_key, past_value, nonpad_kv_seqlen),
            outputs=outputs,
            **attributes,
        )

    def AveragePool(
        self,
        X: Input,
        /,
        *,
        auto_pad: str | bytes | None = None,
        ceil_mode: int | None = None,
        count_include_pad: int | None = None,
        dilations: Sequence[int] | None = None,
        kernel_shape: Sequence[int] | None = None,
        pads: Sequence[int] | None = None,
        strides: Sequence[int] | None = None,
    ) -> Value:
        """``AveragePool`` (versions 1, 7, 10, 11, 19, 22)."""
        attributes = _given(
            auto_pad=auto_pad,
            ceil_mode=ceil_mode,
            count_include_pad=count_include_pad,
            dilations=dilations,
            kernel_shape=kernel_shape,
            pads=pads,
            strides=strides,
        )
        return self.emit("AveragePool", *_present(X), **attributes)

    def BatchNormalization(
        self,
        X: Input,
        scale: Input,
        B: Input,
        input_mean: Input,
        input_var: Input,
        /,
        *,
        consumed_inputs: Sequence[int] | None = None,
        epsilon: float | None = None,
        is_test: int | None = None,
        momentum: float | None = None,
        spatial: int | None = None,
        training_mode: int | None = None,
        outputs: int = 1,
    ) -> tuple[Value, ...]:
        """``BatchNormalization`` (versions 1, 6, 7, 9, 14, 15)."""
        attributes = _given(
            consumed_inputs=consumed_inputs,
            epsilon=epsilon,
            is_test=is_test,
            momentum=momentum,
            spatial=spatial,
            training_mode=training_mode,
        )
        return self.emit_many(
            "BatchNormalization",
            *_present(X, scale, B, input_mean, input_var),
            outputs=outputs,
            **attributes,
        )

    def Bernoulli(
        self,
        input: Input,
        /,
        *,
        dtype: int | None = None,
        seed: float | None = None,
    ) -> Value:
        """``Bernoulli`` (versions 15, 22)."""
        attributes = _given(
            dtype=dtype,
            seed=seed,
        )
        return self.emit("Bernoulli", *_present(input), **attributes)

    def BitCast(
        self,
        input: Input,
        /,
        *,
        to: int | None = None,
    ) -> Value:
        """``BitCast`` (versions 26)."""
        attributes = _given(
            to=to,
        )
        return self.emit("BitCast", *_present(input), **attributes)

    def BitShift(
        self,
        X: Input,
        Y: Input,
        /,
        *,
        direction: str | bytes | None = None,
    ) -> Value:
        """``BitShift`` (versions 11, 28)."""
        attributes = _given(
            direction=direction,
        )
        return self.emit("BitShift", *_present(X, Y), **attributes)

    def BitwiseAnd(
        self,
        A: Input,
        B: Input,
        /,
    ) -> Value:
        """``BitwiseAnd`` (versions 18)."""
        return self.emit("BitwiseAnd", *_present(A, B))

    def BitwiseNot(
        self,
        X: Input,
        /,
    ) -> Value:
        """``BitwiseNot`` (versions 18)."""
        return self.emit("BitwiseNot", *_present(X))

    def BitwiseOr(
        self,
        A: Input,
        B: Input,
        /,
    ) -> Value:
        """``BitwiseOr`` (versions 18)."""
        return self.emit("BitwiseOr", *_present(A, B))

    def BitwiseXor(
        self,
        A: Input,
        B: Input,
        /,
    ) -> Value:
        """``BitwiseXor`` (versions 18)."""
        return self.emit("BitwiseXor", *_present(A, B))

    def BlackmanWindow(
        self,
        size: Input,
        /,
        *,
        output_datatype: int | None = None,
        periodic: int | None = None,
    ) -> Value:
        """``BlackmanWindow`` (versions 17)."""
        attributes = _given(
            output_datatype=output_datatype,
            periodic=periodic,
        )
        return self.emit("BlackmanWindow", *_present(size), **attributes)

    def Cast(
        self,
        input: Input,
        /,
        *,
        round_mode: str | bytes | None = None,
        saturate: int | None = None,
        to: int | None = None,
    ) -> Value:
        """``Cast`` (versions 1, 6, 9, 13, 19, 21, 23, 24, 25, 28)."""
        attributes = _given(
            round_mode=round_mode,
            saturate=saturate,
            to=to,
        )
        return self.emit("Cast", *_present(input), **attributes)

    def CastLike(
        self,
        input: Input,
        target_type: Input,
        /,
        *,
        round_mode: str | bytes | None = None,
        saturate: int | None = None,
    ) -> Value:
        """``CastLike`` (versions 15, 19, 21, 23, 24, 25)."""
        attributes = _given(
            round_mode=round_mode,
            saturate=saturate,
        )
        return self.emit("CastLike", *_present(input, target_type), **attributes)

    def CausalConvWithState(
        self,
        input: Input,
        weight: Input,
        bias: Input = None,
        past_state: Input = None,
        /,
        *,
        activation: str | bytes | None = None,
        outputs: int = 2,
    ) -> tuple[Value, ...]:
        """``CausalConvWithState`` (versions 27)."""
        attributes = _given(
            activation=activation,
        )
        return self.emit_many(
            "CausalConvWithState",
            *_present(input, weight, bias, past_state),
            outputs=outputs,
            **attributes,
        )

    def Ceil(
        self,
        X: Input,
        /,
        *,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``Ceil`` (versions 1, 6, 13)."""
        attributes = _given(
            consumed_inputs=consumed_inputs,
        )
        return self.emit("Ceil", *_present(X), **attributes)

    def Celu(
        self,
        X: Input,
        /,
        *,
        alpha: float | None = None,
    ) -> Value:
        """``Celu`` (versions 12, 28)."""
        attributes = _given(
            alpha=alpha,
        )
        return self.emit("Celu", *_present(X), **attributes)

    def CenterCropPad(
        self,
        input_data: Input,
        shape: Input,
        /,
        *,
        axes: Sequence[int] | None = None,
    ) -> Value:
        """``CenterCropPad`` (versions 18)."""
        attributes = _given(
            axes=axes,
        )
        return self.emit("CenterCropPad", *_present(input_data, shape), **attributes)

    def Clip(
        self,
        input: Input,
        min_: Input = None,
        max_: Input = None,
        /,
        *,
        consumed_inputs: Sequence[int] | None = None,
        max: float | None = None,
        min: float | None = None,
    ) -> Value:
        """``Clip`` (versions 1, 6, 11, 12, 13)."""
        attributes = _given(
            consumed_inputs=consumed_inputs,
            max=max,
            min=min,
        )
        return self.emit("Clip", *_present(input, min_, max_), **attributes)

    def Col2Im(
        self,
        input: Input,
        image_shape: Input,
        block_shape: Input,
        /,
        *,
        dilations: Sequence[int] | None = None,
        pads: Sequence[int] | None = None,
        strides: Sequence[int] | None = None,
    ) -> Value:
        """``Col2Im`` (versions 18)."""
        attributes = _given(
            dilations=dilations,
            pads=pads,
            strides=strides,
        )
        return self.emit("Col2Im", *_present(input, image_shape, block_shape), **attributes)

    def Compress(
        self,
        input: Input,
        condition: Input,
        /,
        *,
        axis: int | None = None,
    ) -> Value:
        """``Compress`` (versions 9, 11, 28)."""
        attributes = _given(
            axis=axis,
        )
        return self.emit("Compress", *_present(input, condition), **attributes)

    def Concat(
        self,
        *inputs: Input,
        axis: int | None = None,
    ) -> Value:
        """``Concat`` (versions 1, 4, 11, 13)."""
        attributes = _given(
            axis=axis,
        )
        return self.emit("Concat", *_present(*inputs), **attributes)

    def ConcatFromSequence(
        self,
        input_sequence: Input,
        /,
        *,
        axis: int | None = None,
        new_axis: int | None = None,
    ) -> Value:
        """``ConcatFromSequence`` (versions 11)."""
        attributes = _given(
            axis=axis,
            new_axis=new_axis,
        )
        return self.emit("ConcatFromSequence", *_present(input_sequence), **attributes)

    def Constant(
        self,
        *,
        sparse_value: Any | None = None,
        value: onnx.TensorProto | None = None,
        value_float: float | None = None,
        value_floats: Sequence[float] | None = None,
        value_int: int | None = None,
        value_ints: Sequence[int] | None = None,
        value_string: str | bytes | None = None,
        value_strings: Sequence[str | bytes] | None = None,
    ) -> Value:
        """``Constant`` (versions 1, 9, 11, 12, 13, 19, 21, 23, 24, 25)."""
        attributes = _given(
            sparse_value=sparse_value,
            value=value,
            value_float=value_float,
            value_floats=value_floats,
            value_int=value_int,
            value_ints=value_ints,
            value_string=value_string,
            value_strings=value_strings,
        )
        return self.emit("Constant", **attributes)

    def ConstantOfShape(
        self,
        input: Input,
        /,
        *,
        value: onnx.TensorProto | None = None,
    ) -> Value:
        """``ConstantOfShape`` (versions 9, 20, 21, 23, 24, 25)."""
        attributes = _given(
            value=value,
        )
        return self.emit("ConstantOfShape", *_present(input), **attributes)

    def Conv(
        self,
        X: Input,
        W: Input,
        B: Input = None,
        /,
        *,
        auto_pad: str | bytes | None = None,
        dilations: Sequence[int] | None = None,
        group: int | None = None,
        kernel_shape: Sequence[int] | None = None,
        pads: Sequence[int] | None = None,
        strides: Sequence[int] | None = None,
    ) -> Value:
        """``Conv`` (versions 1, 11, 22)."""
        attributes = _given(
            auto_pad=auto_pad,
            dilations=dilations,
            group=group,
            kernel_shape=kernel_shape,
            pads=pads,
            strides=strides,
        )
        return self.emit("Conv", *_present(X, W, B), **attributes)

    def ConvInteger(
        self,
        x: Input,
        w: Input,
        x_zero_point: Input = None,
        w_zero_point: Input = None,
        /,
        *,
        auto_pad: str | bytes | None = None,
        dilations: Sequence[int] | None = None,
        group: int | None = None,
        kernel_shape: Sequence[int] | None = None,
        pads: Sequence[int] | None = None,
        strides: Sequence[int] | None = None,
    ) -> Value:
        """``ConvInteger`` (versions 10)."""
        attributes = _given(
            auto_pad=auto_pad,
            dilations=dilations,
            group=group,
            kernel_shape=kernel_shape,
            pads=pads,
            strides=strides,
        )
        return self.emit("ConvInteger", *_present(x, w, x_zero_point, w_zero_point), **attributes)

    def ConvTranspose(
        self,
        X: Input,
        W: Input,
        B: Input = None,
        /,
        *,
        auto_pad: str | bytes | None = None,
        dilations: Sequence[int] | None = None,
        group: int | None = None,
        kernel_shape: Sequence[int] | None = None,
        output_padding: Sequence[int] | None = None,
        output_shape: Sequence[int] | None = None,
        pads: Sequence[int] | None = None,
        strides: Sequence[int] | None = None,
    ) -> Value:
        """``ConvTranspose`` (versions 1, 11, 22)."""
        attributes = _given(
            auto_pad=auto_pad,
            dilations=dilations,
            group=group,
            kernel_shape=kernel_shape,
            output_padding=output_padding,
            output_shape=output_shape,
            pads=pads,
            strides=strides,
        )
        return self.emit("ConvTranspose", *_present(X, W, B), **attributes)

    def Cos(
        self,
        input: Input,
        /,
    ) -> Value:
        """``Cos`` (versions 7, 22)."""
        return self.emit("Cos", *_present(input))

    def Cosh(
        self,
        input: Input,
        /,
    ) -> Value:
        """``Cosh`` (versions 9, 22)."""
        return self.emit("Cosh", *_present(input))

    def CumProd(
        self,
        x: Input,
        axis: Input,
        /,
        *,
        exclusive: int | None = None,
        reverse: int | None = None,
    ) -> Value:
        """``CumProd`` (versions 26)."""
        attributes = _given(
            exclusive=exclusive,
            reverse=reverse,
        )
        return self.emit("CumProd", *_present(x, axis), **attributes)

    def CumSum(
        self,
        x: Input,
        axis: Input,
        /,
        *,
        exclusive: int | None = None,
        reverse: int | None = None,
    ) -> Value:
        """``CumSum`` (versions 11, 14)."""
        attributes = _given(
            exclusive=exclusive,
            reverse=reverse,
        )
        return self.emit("CumSum", *_present(x, axis), **attributes)

    def DFT(
        self,
        input: Input,
        dft_length: Input = None,
        axis_: Input = None,
        /,
        *,
        axis: int | None = None,
        inverse: int | None = None,
        onesided: int | None = None,
    ) -> Value:
        """``DFT`` (versions 17, 20)."""
        attributes = _given(
            axis=axis,
            inverse=inverse,
            onesided=onesided,
        )
        return self.emit("DFT", *_present(input, dft_length, axis_), **attributes)

    def DeformConv(
        self,
        X: Input,
        W: Input,
        offset: Input,
        B: Input = None,
        mask: Input = None,
        /,
        *,
        dilations: Sequence[int] | None = None,
        group: int | None = None,
        kernel_shape: Sequence[int] | None = None,
        offset_group: int | None = None,
        pads: Sequence[int] | None = None,
        strides: Sequence[int] | None = None,
    ) -> Value:
        """``DeformConv`` (versions 19, 22)."""
        attributes = _given(
            dilations=dilations,
            group=group,
            kernel_shape=kernel_shape,
            offset_group=offset_group,
            pads=pads,
            strides=strides,
        )
        return self.emit("DeformConv", *_present(X, W, offset, B, mask), **attributes)

    def DepthToSpace(
        self,
        input: Input,
        /,
        *,
        blocksize: int | None = None,
        mode: str | bytes | None = None,
    ) -> Value:
        """``DepthToSpace`` (versions 1, 11, 13, 28)."""
        attributes = _given(
            blocksize=blocksize,
            mode=mode,
        )
        return self.emit("DepthToSpace", *_present(input), **attributes)

    def DequantizeLinear(
        self,
        x: Input,
        x_scale: Input,
        x_zero_point: Input = None,
        /,
        *,
        axis: int | None = None,
        block_size: int | None = None,
        output_dtype: int | None = None,
    ) -> Value:
        """``DequantizeLinear`` (versions 10, 13, 19, 21, 23, 24, 25, 28)."""
        attributes = _given(
            axis=axis,
            block_size=block_size,
            output_dtype=output_dtype,
        )
        return self.emit("DequantizeLinear", *_present(x, x_scale, x_zero_point), **attributes)

    def Det(
        self,
        X: Input,
        /,
    ) -> Value:
        """``Det`` (versions 11, 22)."""
        return self.emit("Det", *_present(X))

    def Div(
        self,
        A: Input,
        B: Input,
        /,
        *,
        axis: int | None = None,
        broadcast: int | None = None,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``Div`` (versions 1, 6, 7, 13, 14)."""
        attributes = _given(
            axis=axis,
            broadcast=broadcast,
            consumed_inputs=consumed_inputs,
        )
        return self.emit("Div", *_present(A, B), **attributes)

    def Dropout(
        self,
        data: Input,
        ratio_: Input = None,
        training_mode: Input = None,
        /,
        *,
        consumed_inputs: Sequence[int] | None = None,
        is_test: int | None = None,
        ratio: float | None = None,
        seed: int | None = None,
        outputs: int = 1,
    ) -> tuple[Value, ...]:
        """``Dropout`` (versions 1, 6, 7, 10, 12, 13, 22)."""
        attributes = _given(
            consumed_inputs=consumed_inputs,
            is_test=is_test,
            ratio=ratio,
            seed=seed,
        )
        return self.emit_many("Dropout", *_present(data, ratio_, training_mode), outputs=outputs, **attributes)

    def DynamicQuantizeLinear(
        self,
        x: Input,
        /,
        *,
        outputs: int = 3,
    ) -> tuple[Value, ...]:
        """``DynamicQuantizeLinear`` (versions 11)."""
        return self.emit_many("DynamicQuantizeLinear", *_present(x), outputs=outputs)

    def Einsum(
        self,
        *Inputs: Input,
        equation: str | bytes | None = None,
    ) -> Value:
        """``Einsum`` (versions 12, 28)."""
        attributes = _given(
            equation=equation,
        )
        return self.emit("Einsum", *_present(*Inputs), **attributes)

    def Elu(
        self,
        X: Input,
        /,
        *,
        alpha: float | None = None,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``Elu`` (versions 1, 6, 22)."""
        attributes = _given(
            alpha=alpha,
            consumed_inputs=consumed_inputs,
        )
        return self.emit("Elu", *_present(X), **attributes)

    def Equal(
        self,
        A: Input,
        B: Input,
        /,
        *,
        axis: int | None = None,
        broadcast: int | None = None,
    ) -> Value:
        """``Equal`` (versions 1, 7, 11, 13, 19)."""
        attributes = _given(
            axis=axis,
            broadcast=broadcast,
        )
        return self.emit("Equal", *_present(A, B), **attributes)

    def Erf(
        self,
        input: Input,
        /,
    ) -> Value:
        """``Erf`` (versions 9, 13)."""
        return self.emit("Erf", *_present(input))

    def Exp(
        self,
        input: Input,
        /,
        *,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``Exp`` (versions 1, 6, 13)."""
        attributes = _given(
            consumed_inputs=consumed_inputs,
        )
        return self.emit("Exp", *_present(input), **attributes)

    def Expand(
        self,
        input: Input,
        shape: Input,
        /,
    ) -> Value:
        """``Expand`` (versions 8, 13)."""
        return self.emit("Expand", *_present(input, shape))

    def EyeLike(
        self,
        input: Input,
        /,
        *,
        dtype: int | None = None,
        k: int | None = None,
    ) -> Value:
        """``EyeLike`` (versions 9, 22)."""
        attributes = _given(
            dtype=dtype,
            k=k,
        )
        return self.emit("EyeLike", *_present(input), **attributes)

    def Flatten(
        self,
        input: Input,
        /,
        *,
        axis: int | None = None,
    ) -> Value:
        """``Flatten`` (versions 1, 9, 11, 13, 21, 23, 24, 25)."""
        attributes = _given(
            axis=axis,
        )
        return self.emit("Flatten", *_present(input), **attributes)

    def Floor(
        self,
        X: Input,
        /,
        *,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``Floor`` (versions 1, 6, 13)."""
        attributes = _given(
            consumed_inputs=consumed_inputs,
        )
        return self.emit("Floor", *_present(X), **attributes)

    def GRU(
        self,
        X: Input,
        W: Input,
        R: Input,
        B: Input = None,
        sequence_lens: Input = None,
        initial_h: Input = None,
        /,
        *,
        activation_alpha: Sequence[float] | None = None,
        activation_beta: Sequence[float] | None = None,
        activations: Sequence[str | bytes] | None = None,
        clip: float | None = None,
        direction: str | bytes | None = None,
        hidden_size: int | None = None,
        layout: int | None = None,
        linear_before_reset: int | None = None,
        output_sequence: int | None = None,
        outputs: int = 1,
    ) -> tuple[Value, ...]:
        """``GRU`` (versions 1, 3, 7, 14, 22)."""
        attributes = _given(
            activation_alpha=activation_alpha,
            activation_beta=activation_beta,
            activations=activations,
            clip=clip,
            direction=direction,
            hidden_size=hidden_size,
            layout=layout,
            linear_before_reset=linear_before_reset,
            output_sequence=output_sequence,
        )
        return self.emit_many("GRU", *_present(X, W, R, B, sequence_lens, initial_h), outputs=outputs, **attributes)

    def Gather(
        self,
        data: Input,
        indices: Input,
        /,
        *,
        axis: int | None = None,
    ) -> Value:
        """``Gather`` (versions 1, 11, 13)."""
        attributes = _given(
            axis=axis,
        )
        return self.emit("Gather", *_present(data, indices), **attributes)

    def GatherElements(
        self,
        data: Input,
        indices: Input,
        /,
        *,
        axis: int | None = None,
    ) -> Value:
        """``GatherElements`` (versions 11, 13)."""
        attributes = _given(
            axis=axis,
        )
        return self.emit("GatherElements", *_present(data, indices), **attributes)

    def GatherND(
        self,
        data: Input,
        indices: Input,
        /,
        *,
        batch_dims: int | None = None,
    ) -> Value:
        """``GatherND`` (versions 11, 12, 13)."""
        attributes = _given(
            batch_dims=batch_dims,
        )
        return self.emit("GatherND", *_present(data, indices), **attributes)

    def Gelu(
        self,
        X: Input,
        /,
        *,
        approximate: str | bytes | None = None,
    ) -> Value:
        """``Gelu`` (versions 20)."""
        attributes = _given(
            approximate=approximate,
        )
        return self.emit("Gelu", *_present(X), **attributes)

    def Gemm(
        self,
        A: Input,
        B: Input,
        C: Input = None,
        /,
        *,
        alpha: float | None = None,
        beta: float | None = None,
        broadcast: int | None = None,
        transA: int | None = None,
        transB: int | None = None,
    ) -> Value:
        """``Gemm`` (versions 1, 6, 7, 9, 11, 13)."""
        attributes = _given(
            alpha=alpha,
            beta=beta,
            broadcast=broadcast,
            transA=transA,
            transB=transB,
        )
        return self.emit("Gemm", *_present(A, B, C), **attributes)

    def GlobalAveragePool(
        self,
        X: Input,
        /,
    ) -> Value:
        """``GlobalAveragePool`` (versions 1, 22)."""
        return self.emit("GlobalAveragePool", *_present(X))

    def GlobalLpPool(
        self,
        X: Input,
        /,
        *,
        p: int | None = None,
    ) -> Value:
        """``GlobalLpPool`` (versions 1, 2, 22)."""
        attributes = _given(
            p=p,
        )
        return self.emit("GlobalLpPool", *_present(X), **attributes)

    def GlobalMaxPool(
        self,
        X: Input,
        /,
    ) -> Value:
        """``GlobalMaxPool`` (versions 1, 22)."""
        return self.emit("GlobalMaxPool", *_present(X))

    def Greater(
        self,
        A: Input,
        B: Input,
        /,
        *,
        axis: int | None = None,
        broadcast: int | None = None,
    ) -> Value:
        """``Greater`` (versions 1, 7, 9, 13)."""
        attributes = _given(
            axis=axis,
            broadcast=broadcast,
        )
        return self.emit("Greater", *_present(A, B), **attributes)

    def GreaterOrEqual(
        self,
        A: Input,
        B: Input,
        /,
    ) -> Value:
        """``GreaterOrEqual`` (versions 12, 16)."""
        return self.emit("GreaterOrEqual", *_present(A, B))

    def GridSample(
        self,
        X: Input,
        grid: Input,
        /,
        *,
        align_corners: int | None = None,
        mode: str | bytes | None = None,
        padding_mode: str | bytes | None = None,
    ) -> Value:
        """``GridSample`` (versions 16, 20, 22)."""
        attributes = _given(
            align_corners=align_corners,
            mode=mode,
            padding_mode=padding_mode,
        )
        return self.emit("GridSample", *_present(X, grid), **attributes)

    def GroupNormalization(
        self,
        X: Input,
        scale: Input,
        bias: Input,
        /,
        *,
        epsilon: float | None = None,
        num_groups: int | None = None,
        stash_type: int | None = None,
    ) -> Value:
        """``GroupNormalization`` (versions 21)."""
        attributes = _given(
            epsilon=epsilon,
            num_groups=num_groups,
            stash_type=stash_type,
        )
        return self.emit("GroupNormalization", *_present(X, scale, bias), **attributes)

    def HammingWindow(
        self,
        size: Input,
        /,
        *,
        output_datatype: int | None = None,
        periodic: int | None = None,
    ) -> Value:
        """``HammingWindow`` (versions 17)."""
        attributes = _given(
            output_datatype=output_datatype,
            periodic=periodic,
        )
        return self.emit("HammingWindow", *_present(size), **attributes)

    def HannWindow(
        self,
        size: Input,
        /,
        *,
        output_datatype: int | None = None,
        periodic: int | None = None,
    ) -> Value:
        """``HannWindow`` (versions 17)."""
        attributes = _given(
            output_datatype=output_datatype,
            periodic=periodic,
        )
        return self.emit("HannWindow", *_present(size), **attributes)

    def HardSigmoid(
        self,
        X: Input,
        /,
        *,
        alpha: float | None = None,
        beta: float | None = None,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``HardSigmoid`` (versions 1, 6, 22)."""
        attributes = _given(
            alpha=alpha,
            beta=beta,
            consumed_inputs=consumed_inputs,
        )
        return self.emit("HardSigmoid", *_present(X), **attributes)

    def HardSwish(
        self,
        X: Input,
        /,
    ) -> Value:
        """``HardSwish`` (versions 14, 22)."""
        return self.emit("HardSwish", *_present(X))

    def Hardmax(
        self,
        input: Input,
        /,
        *,
        axis: int | None = None,
    ) -> Value:
        """``Hardmax`` (versions 1, 11, 13)."""
        attributes = _given(
            axis=axis,
        )
        return self.emit("Hardmax", *_present(input), **attributes)

    def Identity(
        self,
        input: Input,
        /,
    ) -> Value:
        """``Identity`` (versions 1, 13, 14, 16, 19, 21, 23, 24, 25)."""
        return self.emit("Identity", *_present(input))

    def If(
        self,
        cond: Input,
        /,
        *,
        else_branch: onnx.GraphProto | None = None,
        then_branch: onnx.GraphProto | None = None,
        outputs: int = 1,
    ) -> tuple[Value, ...]:
        """``If`` (versions 1, 11, 13, 16, 19, 21, 23, 24, 25)."""
        attributes = _given(
            else_branch=else_branch,
            then_branch=then_branch,
        )
        return self.emit_many("If", *_present(cond), outputs=outputs, **attributes)

    def ImageDecoder(
        self,
        encoded_stream: Input,
        /,
        *,
        pixel_format: str | bytes | None = None,
    ) -> Value:
        """``ImageDecoder`` (versions 20)."""
        attributes = _given(
            pixel_format=pixel_format,
        )
        return self.emit("ImageDecoder", *_present(encoded_stream), **attributes)

    def InstanceNormalization(
        self,
        input: Input,
        scale: Input,
        B: Input,
        /,
        *,
        consumed_inputs: Sequence[int] | None = None,
        epsilon: float | None = None,
    ) -> Value:
        """``InstanceNormalization`` (versions 1, 6, 22)."""
        attributes = _given(
            consumed_inputs=consumed_inputs,
            epsilon=epsilon,
        )
        return self.emit("InstanceNormalization", *_present(input, scale, B), **attributes)

    def IsInf(
        self,
        X: Input,
        /,
        *,
        detect_negative: int | None = None,
        detect_positive: int | None = None,
    ) -> Value:
        """``IsInf`` (versions 10, 20)."""
        attributes = _given(
            detect_negative=detect_negative,
            detect_positive=detect_positive,
        )
        return self.emit("IsInf", *_present(X), **attributes)

    def IsNaN(
        self,
        X: Input,
        /,
    ) -> Value:
        """``IsNaN`` (versions 9, 13, 20)."""
        return self.emit("IsNaN", *_present(X))

    def LRN(
        self,
        X: Input,
        /,
        *,
        alpha: float | None = None,
        beta: float | None = None,
        bias: float | None = None,
        size: int | None = None,
    ) -> Value:
        """``LRN`` (versions 1, 13)."""
        attributes = _given(
            alpha=alpha,
            beta=beta,
            bias=bias,
            size=size,
        )
        return self.emit("LRN", *_present(X), **attributes)

    def LSTM(
        self,
        X: Input,
        W: Input,
        R: Input,
        B: Input = None,
        sequence_lens: Input = None,
        initial_h: Input = None,
        initial_c: Input = None,
        P: Input = None,
        /,
        *,
        activation_alpha: Sequence[float] | None = None,
        activation_beta: Sequence[float] | None = None,
        activations: Sequence[str | bytes] | None = None,
        clip: float | None = None,
        direction: str | bytes | None = None,
        hidden_size: int | None = None,
        input_forget: int | None = None,
        layout: int | None = None,
        output_sequence: int | None = None,
        outputs: int = 1,
    ) -> tuple[Value, ...]:
        """``LSTM`` (versions 1, 7, 14, 22)."""
        attributes = _given(
            activation_alpha=activation_alpha,
            activation_beta=activation_beta,
            activations=activations,
            clip=clip,
            direction=direction,
            hidden_size=hidden_size,
            input_forget=input_forget,
            layout=layout,
            output_sequence=output_sequence,
        )
        return self.emit_many(
            "LSTM",
            *_present(X, W, R, B, sequence_lens, initial_h, initial_c, P),
            outputs=outputs,
            **attributes,
        )

    def LayerNormalization(
        self,
        X: Input,
        Scale: Input,
        B: Input = None,
        /,
        *,
        axis: int | None = None,
        epsilon: float | None = None,
        stash_type: int | None = None,
        outputs: int = 1,
    ) -> tuple[Value, ...]:
        """``LayerNormalization`` (versions 17)."""
        attributes = _given(
            axis=axis,
            epsilon=epsilon,
            stash_type=stash_type,
        )
        return self.emit_many("LayerNormalization", *_present(X, Scale, B), outputs=outputs, **attributes)

    def LeakyRelu(
        self,
        X: Input,
        /,
        *,
        alpha: float | None = None,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``LeakyRelu`` (versions 1, 6, 16)."""
        attributes = _given(
            alpha=alpha,
            consumed_inputs=consumed_inputs,
        )
        return self.emit("LeakyRelu", *_present(X), **attributes)

    def Less(
        self,
        A: Input,
        B: Input,
        /,
        *,
        axis: int | None = None,
        broadcast: int | None = None,
    ) -> Value:
        """``Less`` (versions 1, 7, 9, 13)."""
        attributes = _given(
            axis=axis,
            broadcast=broadcast,
        )
        return self.emit("Less", *_present(A, B), **attributes)

    def LessOrEqual(
        self,
        A: Input,
        B: Input,
        /,
    ) -> Value:
        """``LessOrEqual`` (versions 12, 16)."""
        return self.emit("LessOrEqual", *_present(A, B))

    def LinearAttention(
        self,
        query: Input,
        key: Input,
        value: Input,
        past_state: Input = None,
        decay: Input = None,
        beta: Input = None,
        /,
        *,
        chunk_size: int | None = None,
        kv_num_heads: int | None = None,
        q_num_heads: int | None = None,
        scale: float | None = None,
        update_rule: str | bytes | None = None,
        outputs: int = 2,
    ) -> tuple[Value, ...]:
        """``LinearAttention`` (versions 27)."""
        attributes = _given(
            chunk_size=chunk_size,
            kv_num_heads=kv_num_heads,
            q_num_heads=q_num_heads,
            scale=scale,
            update_rule=update_rule,
        )
        return self.emit_many(
            "LinearAttention",
            *_present(query, key, value, past_state, decay, beta),
            outputs=outputs,
            **attributes,
        )

    def Log(
        self,
        input: Input,
        /,
        *,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``Log`` (versions 1, 6, 13)."""
        attributes = _given(
            consumed_inputs=consumed_inputs,
        )
        return self.emit("Log", *_present(input), **attributes)

    def LogSoftmax(
        self,
        input: Input,
        /,
        *,
        axis: int | None = None,
    ) -> Value:
        """``LogSoftmax`` (versions 1, 11, 13)."""
        attributes = _given(
            axis=axis,
        )
        return self.emit("LogSoftmax", *_present(input), **attributes)

    def Loop(
        self,
        M: Input = None,
        cond: Input = None,
        *v_initial: Input,
        body: onnx.GraphProto | None = None,
        outputs: int = 1,
    ) -> tuple[Value, ...]:
        """``Loop`` (versions 1, 11, 13, 16, 19, 21, 23, 24, 25)."""
        attributes = _given(
            body=body,
        )
        return self.emit_many("Loop", *_present(M, cond, *v_initial), outputs=outputs, **attributes)

    def LpNormalization(
        self,
        input: Input,
        /,
        *,
        axis: int | None = None,
        p: int | None = None,
    ) -> Value:
        """``LpNormalization`` (versions 1, 22)."""
        attributes = _given(
            axis=axis,
            p=p,
        )
        return self.emit("LpNormalization", *_present(input), **attributes)

    def LpPool(
        self,
        X: Input,
        /,
        *,
        auto_pad: str | bytes | None = None,
        ceil_mode: int | None = None,
        dilations: Sequence[int] | None = None,
        kernel_shape: Sequence[int] | None = None,
        p: int | None = None,
        pads: Sequence[int] | None = None,
        strides: Sequence[int] | None = None,
    ) -> Value:
        """``LpPool`` (versions 1, 2, 11, 18, 22)."""
        attributes = _given(
            auto_pad=auto_pad,
            ceil_mode=ceil_mode,
            dilations=dilations,
            kernel_shape=kernel_shape,
            p=p,
            pads=pads,
            strides=strides,
        )
        return self.emit("LpPool", *_present(X), **attributes)

    def MatMul(
        self,
        A: Input,
        B: Input,
        /,
    ) -> Value:
        """``MatMul`` (versions 1, 9, 13)."""
        return self.emit("MatMul", *_present(A, B))

    def MatMulInteger(
        self,
        A: Input,
        B: Input,
        a_zero_point: Input = None,
        b_zero_point: Input = None,
        /,
    ) -> Value:
        """``MatMulInteger`` (versions 10)."""
        return self.emit("MatMulInteger", *_present(A, B, a_zero_point, b_zero_point))

    def Max(
        self,
        *data_0: Input,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``Max`` (versions 1, 6, 8, 12, 13)."""
        attributes = _given(
            consumed_inputs=consumed_inputs,
        )
        return self.emit("Max", *_present(*data_0), **attributes)

    def MaxPool(
        self,
        X: Input,
        /,
        *,
        auto_pad: str | bytes | None = None,
        ceil_mode: int | None = None,
        dilations: Sequence[int] | None = None,
        kernel_shape: Sequence[int] | None = None,
        pads: Sequence[int] | None = None,
        storage_order: int | None = None,
        strides: Sequence[int] | None = None,
        outputs: int = 1,
    ) -> tuple[Value, ...]:
        """``MaxPool`` (versions 1, 8, 10, 11, 12, 22)."""
        attributes = _given(
            auto_pad=auto_pad,
            ceil_mode=ceil_mode,
            dilations=dilations,
            kernel_shape=kernel_shape,
            pads=pads,
            storage_order=storage_order,
            strides=strides,
        )
        return self.emit_many("MaxPool", *_present(X), outputs=outputs, **attributes)

    def MaxRoiPool(
        self,
        X: Input,
        rois: Input,
        /,
        *,
        pooled_shape: Sequence[int] | None = None,
        spatial_scale: float | None = None,
    ) -> Value:
        """``MaxRoiPool`` (versions 1, 22)."""
        attributes = _given(
            pooled_shape=pooled_shape,
            spatial_scale=spatial_scale,
        )
        return self.emit("MaxRoiPool", *_present(X, rois), **attributes)

    def MaxUnpool(
        self,
        X: Input,
        I: Input,
        output_shape: Input = None,
        /,
        *,
        kernel_shape: Sequence[int] | None = None,
        pads: Sequence[int] | None = None,
        strides: Sequence[int] | None = None,
    ) -> Value:
        """``MaxUnpool`` (versions 9, 11, 22)."""
        attributes = _given(
            kernel_shape=kernel_shape,
            pads=pads,
            strides=strides,
        )
        return self.emit("MaxUnpool", *_present(X, I, output_shape), **attributes)

    def Mean(
        self,
        *data_0: Input,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``Mean`` (versions 1, 6, 8, 13)."""
        attributes = _given(
            consumed_inputs=consumed_inputs,
        )
        return self.emit("Mean", *_present(*data_0), **attributes)

    def MeanVarianceNormalization(
        self,
        X: Input,
        /,
        *,
        axes: Sequence[int] | None = None,
    ) -> Value:
        """``MeanVarianceNormalization`` (versions 9, 13)."""
        attributes = _given(
            axes=axes,
        )
        return self.emit("MeanVarianceNormalization", *_present(X), **attributes)

    def MelWeightMatrix(
        self,
        num_mel_bins: Input,
        dft_length: Input,
        sample_rate: Input,
        lower_edge_hertz: Input,
        upper_edge_hertz: Input,
        /,
        *,
        output_datatype: int | None = None,
    ) -> Value:
        """``MelWeightMatrix`` (versions 17)."""
        attributes = _given(
            output_datatype=output_datatype,
        )
        return self.emit(
            "MelWeightMatrix",
            *_present(num_mel_bins, dft_length, sample_rate, lower_edge_hertz, upper_edge_hertz),
            **attributes,
        )

    def Min(
        self,
        *data_0: Input,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``Min`` (versions 1, 6, 8, 12, 13)."""
        attributes = _given(
            consumed_inputs=consumed_inputs,
        )
        return self.emit("Min", *_present(*data_0), **attributes)

    def Mish(
        self,
        X: Input,
        /,
    ) -> Value:
        """``Mish`` (versions 18, 22)."""
        return self.emit("Mish", *_present(X))

    def Mod(
        self,
        A: Input,
        B: Input,
        /,
        *,
        fmod: int | None = None,
    ) -> Value:
        """``Mod`` (versions 10, 13, 28)."""
        attributes = _given(
            fmod=fmod,
        )
        return self.emit("Mod", *_present(A, B), **attributes)

    def Mul(
        self,
        A: Input,
        B: Input,
        /,
        *,
        axis: int | None = None,
        broadcast: int | None = None,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``Mul`` (versions 1, 6, 7, 13, 14)."""
        attributes = _given(
            axis=axis,
            broadcast=broadcast,
            consumed_inputs=consumed_inputs,
        )
        return self.emit("Mul", *_present(A, B), **attributes)

    def Multinomial(
        self,
        input: Input,
        /,
        *,
        dtype: int | None = None,
        sample_size: int | None = None,
        seed: float | None = None,
    ) -> Value:
        """``Multinomial`` (versions 7, 22)."""
        attributes = _given(
            dtype=dtype,
            sample_size=sample_size,
            seed=seed,
        )
        return self.emit("Multinomial", *_present(input), **attributes)

    def Neg(
        self,
        X: Input,
        /,
        *,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``Neg`` (versions 1, 6, 13)."""
        attributes = _given(
            consumed_inputs=consumed_inputs,
        )
        return self.emit("Neg", *_present(X), **attributes)

    def NegativeLogLikelihoodLoss(
        self,
        input: Input,
        target: Input,
        weight: Input = None,
        /,
        *,
        ignore_index: int | None = None,
        reduction: str | bytes | None = None,
    ) -> Value:
        """``NegativeLogLikelihoodLoss`` (versions 12, 13, 22)."""
        attributes = _given(
            ignore_index=ignore_index,
            reduction=reduction,
        )
        return self.emit("NegativeLogLikelihoodLoss", *_present(input, target, weight), **attributes)

    def NonMaxSuppression(
        self,
        boxes: Input,
        scores: Input,
        max_output_boxes_per_class: Input = None,
        iou_threshold: Input = None,
        score_threshold: Input = None,
        /,
        *,
        center_point_box: int | None = None,
    ) -> Value:
        """``NonMaxSuppression`` (versions 10, 11)."""
        attributes = _given(
            center_point_box=center_point_box,
        )
        return self.emit(
            "NonMaxSuppression",
            *_present(boxes, scores, max_output_boxes_per_class, iou_threshold, score_threshold),
            **attributes,
        )

    def NonZero(
        self,
        X: Input,
        /,
    ) -> Value:
        """``NonZero`` (versions 9, 13)."""
        return self.emit("NonZero", *_present(X))

    def Not(
        self,
        X: Input,
        /,
    ) -> Value:
        """``Not`` (versions 1)."""
        return self.emit("Not", *_present(X))

    def OneHot(
        self,
        indices: Input,
        depth: Input,
        values: Input,
        /,
        *,
        axis: int | None = None,
    ) -> Value:
        """``OneHot`` (versions 9, 11, 28)."""
        attributes = _given(
            axis=axis,
        )
        return self.emit("OneHot", *_present(indices, depth, values), **attributes)

    def Optional(
        self,
        input: Input = None,
        /,
        *,
        type: Any | None = None,
    ) -> Value:
        """``Optional`` (versions 15, 28)."""
        attributes = _given(
            type=type,
        )
        return self.emit("Optional", *_present(input), **attributes)

    def OptionalGetElement(
        self,
        input: Input,
        /,
    ) -> Value:
        """``OptionalGetElement`` (versions 15, 18, 28)."""
        return self.emit("OptionalGetElement", *_present(input))

    def OptionalHasElement(
        self,
        input: Input = None,
        /,
    ) -> Value:
        """``OptionalHasElement`` (versions 15, 18, 28)."""
        return self.emit("OptionalHasElement", *_present(input))

    def Or(
        self,
        A: Input,
        B: Input,
        /,
        *,
        axis: int | None = None,
        broadcast: int | None = None,
    ) -> Value:
        """``Or`` (versions 1, 7)."""
        attributes = _given(
            axis=axis,
            broadcast=broadcast,
        )
        return self.emit("Or", *_present(A, B), **attributes)

    def PRelu(
        self,
        X: Input,
        slope: Input,
        /,
        *,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``PRelu`` (versions 1, 6, 7, 9, 16)."""
        attributes = _given(
            consumed_inputs=consumed_inputs,
        )
        return self.emit("PRelu", *_present(X, slope), **attributes)

    def Pad(
        self,
        data: Input,
        pads_: Input,
        constant_value: Input = None,
        axes: Input = None,
        /,
        *,
        mode: str | bytes | None = None,
        paddings: Sequence[int] | None = None,
        pads: Sequence[int] | None = None,
        value: float | None = None,
    ) -> Value:
        """``Pad`` (versions 1, 2, 11, 13, 18, 19, 21, 23, 24, 25)."""
        attributes = _given(
            mode=mode,
            paddings=paddings,
            pads=pads,
            value=value,
        )
        return self.emit("Pad", *_present(data, pads_, constant_value, axes), **attributes)

    def Pow(
        self,
        X: Input,
        Y: Input,
        /,
        *,
        axis: int | None = None,
        broadcast: int | None = None,
    ) -> Value:
        """``Pow`` (versions 1, 7, 12, 13, 15)."""
        attributes = _given(
            axis=axis,
            broadcast=broadcast,
        )
        return self.emit("Pow", *_present(X, Y), **attributes)

    def QLinearConv(
        self,
        x: Input,
        x_scale: Input,
        x_zero_point: Input,
        w: Input,
        w_scale: Input,
        w_zero_point: Input,
        y_scale: Input,
        y_zero_point: Input,
        B: Input = None,
        /,
        *,
        auto_pad: str | bytes | None = None,
        dilations: Sequence[int] | None = None,
        group: int | None = None,
        kernel_shape: Sequence[int] | None = None,
        pads: Sequence[int] | None = None,
        strides: Sequence[int] | None = None,
    ) -> Value:
        """``QLinearConv`` (versions 10)."""
        attributes = _given(
            auto_pad=auto_pad,
            dilations=dilations,
            group=group,
            kernel_shape=kernel_shape,
            pads=pads,
            strides=strides,
        )
        return self.emit(
            "QLinearConv",
            *_present(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B),
            **attributes,
        )

    def QLinearMatMul(
        self,
        a: Input,
        a_scale: Input,
        a_zero_point: Input,
        b: Input,
        b_scale: Input,
        b_zero_point: Input,
        y_scale: Input,
        y_zero_point: Input,
        /,
    ) -> Value:
        """``QLinearMatMul`` (versions 10, 21)."""
        return self.emit(
            "QLinearMatMul",
            *_present(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point),
        )

    def QuantizeLinear(
        self,
        x: Input,
        y_scale: Input,
        y_zero_point: Input = None,
        /,
        *,
        axis: int | None = None,
        block_size: int | None = None,
        output_dtype: int | None = None,
        precision: int | None = None,
        saturate: int | None = None,
    ) -> Value:
        """``QuantizeLinear`` (versions 10, 13, 19, 21, 23, 24, 25, 28)."""
        attributes = _given(
            axis=axis,
            block_size=block_size,
            output_dtype=output_dtype,
            precision=precision,
            saturate=saturate,
        )
        return self.emit("QuantizeLinear", *_present(x, y_scale, y_zero_point), **attributes)

    def RMSNormalization(
        self,
        X: Input,
        scale: Input,
        /,
        *,
        axis: int | None = None,
        epsilon: float | None = None,
        stash_type: int | None = None,
    ) -> Value:
        """``RMSNormalization`` (versions 23)."""
        attributes = _given(
            axis=axis,
            epsilon=epsilon,
            stash_type=stash_type,
        )
        return self.emit("RMSNormalization", *_present(X, scale), **attributes)

    def RNN(
        self,
        X: Input,
        W: Input,
        R: Input,
        B: Input = None,
        sequence_lens: Input = None,
        initial_h: Input = None,
        /,
        *,
        activation_alpha: Sequence[float] | None = None,
        activation_beta: Sequence[float] | None = None,
        activations: Sequence[str | bytes] | None = None,
        clip: float | None = None,
        direction: str | bytes | None = None,
        hidden_size: int | None = None,
        layout: int | None = None,
        output_sequence: int | None = None,
        outputs: int = 1,
    ) -> tuple[Value, ...]:
        """``RNN`` (versions 1, 7, 14, 22)."""
        attributes = _given(
            activation_alpha=activation_alpha,
            activation_beta=activation_beta,
            activations=activations,
            clip=clip,
            direction=direction,
            hidden_size=hidden_size,
            layout=layout,
            output_sequence=output_sequence,
        )
        return self.emit_many("RNN", *_present(X, W, R, B, sequence_lens, initial_h), outputs=outputs, **attributes)

    def RandomNormal(
        self,
        *,
        dtype: int | None = None,
        mean: float | None = None,
        scale: float | None = None,
        seed: float | None = None,
        shape: Sequence[int] | None = None,
    ) -> Value:
        """``RandomNormal`` (versions 1, 22)."""
        attributes = _given(
            dtype=dtype,
            mean=mean,
            scale=scale,
            seed=seed,
            shape=shape,
        )
        return self.emit("RandomNormal", **attributes)

    def RandomNormalLike(
        self,
        input: Input,
        /,
        *,
        dtype: int | None = None,
        mean: float | None = None,
        scale: float | None = None,
        seed: float | None = None,
    ) -> Value:
        """``RandomNormalLike`` (versions 1, 22)."""
        attributes = _given(
            dtype=dtype,
            mean=mean,
            scale=scale,
            seed=seed,
        )
        return self.emit("RandomNormalLike", *_present(input), **attributes)

    def RandomUniform(
        self,
        *,
        dtype: int | None = None,
        high: float | None = None,
        low: float | None = None,
        seed: float | None = None,
        shape: Sequence[int] | None = None,
    ) -> Value:
        """``RandomUniform`` (versions 1, 22)."""
        attributes = _given(
            dtype=dtype,
            high=high,
            low=low,
            seed=seed,
            shape=shape,
        )
        return self.emit("RandomUniform", **attributes)

    def RandomUniformLike(
        self,
        input: Input,
        /,
        *,
        dtype: int | None = None,
        high: float | None = None,
        low: float | None = None,
        seed: float | None = None,
    ) -> Value:
        """``RandomUniformLike`` (versions 1, 22)."""
        attributes = _given(
            dtype=dtype,
            high=high,
            low=low,
            seed=seed,
        )
        return self.emit("RandomUniformLike", *_present(input), **attributes)

    def Range(
        self,
        start: Input,
        limit: Input,
        delta: Input,
        /,
        *,
        stash_type: int | None = None,
    ) -> Value:
        """``Range`` (versions 11, 27)."""
        attributes = _given(
            stash_type=stash_type,
        )
        return self.emit("Range", *_present(start, limit, delta), **attributes)

    def Reciprocal(
        self,
        X: Input,
        /,
        *,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``Reciprocal`` (versions 1, 6, 13)."""
        attributes = _given(
            consumed_inputs=consumed_inputs,
        )
        return self.emit("Reciprocal", *_present(X), **attributes)

    def ReduceL1(
        self,
        data: Input,
        axes_: Input = None,
        /,
        *,
        axes: Sequence[int] | None = None,
        keepdims: int | None = None,
        noop_with_empty_axes: int | None = None,
    ) -> Value:
        """``ReduceL1`` (versions 1, 11, 13, 18)."""
        attributes = _given(
            axes=axes,
            keepdims=keepdims,
            noop_with_empty_axes=noop_with_empty_axes,
        )
        return self.emit("ReduceL1", *_present(data, axes_), **attributes)

    def ReduceL2(
        self,
        data: Input,
        axes_: Input = None,
        /,
        *,
        axes: Sequence[int] | None = None,
        keepdims: int | None = None,
        noop_with_empty_axes: int | None = None,
    ) -> Value:
        """``ReduceL2`` (versions 1, 11, 13, 18)."""
        attributes = _given(
            axes=axes,
            keepdims=keepdims,
            noop_with_empty_axes=noop_with_empty_axes,
        )
        return self.emit("ReduceL2", *_present(data, axes_), **attributes)

    def ReduceLogSum(
        self,
        data: Input,
        axes_: Input = None,
        /,
        *,
        axes: Sequence[int] | None = None,
        keepdims: int | None = None,
        noop_with_empty_axes: int | None = None,
    ) -> Value:
        """``ReduceLogSum`` (versions 1, 11, 13, 18, 28)."""
        attributes = _given(
            axes=axes,
            keepdims=keepdims,
            noop_with_empty_axes=noop_with_empty_axes,
        )
        return self.emit("ReduceLogSum", *_present(data, axes_), **attributes)

    def ReduceLogSumExp(
        self,
        data: Input,
        axes_: Input = None,
        /,
        *,
        axes: Sequence[int] | None = None,
        keepdims: int | None = None,
        noop_with_empty_axes: int | None = None,
    ) -> Value:
        """``ReduceLogSumExp`` (versions 1, 11, 13, 18, 28)."""
        attributes = _given(
            axes=axes,
            keepdims=keepdims,
            noop_with_empty_axes=noop_with_empty_axes,
        )
        return self.emit("ReduceLogSumExp", *_present(data, axes_), **attributes)

    def ReduceMax(
        self,
        data: Input,
        axes_: Input = None,
        /,
        *,
        axes: Sequence[int] | None = None,
        keepdims: int | None = None,
        noop_with_empty_axes: int | None = None,
    ) -> Value:
        """``ReduceMax`` (versions 1, 11, 12, 13, 18, 20)."""
        attributes = _given(
            axes=axes,
            keepdims=keepdims,
            noop_with_empty_axes=noop_with_empty_axes,
        )
        return self.emit("ReduceMax", *_present(data, axes_), **attributes)

    def ReduceMean(
        self,
        data: Input,
        axes_: Input = None,
        /,
        *,
        axes: Sequence[int] | None = None,
        keepdims: int | None = None,
        noop_with_empty_axes: int | None = None,
    ) -> Value:
        """``ReduceMean`` (versions 1, 11, 13, 18)."""
        attributes = _given(
            axes=axes,
            keepdims=keepdims,
            noop_with_empty_axes=noop_with_empty_axes,
        )
        return self.emit("ReduceMean", *_present(data, axes_), **attributes)

    def ReduceMin(
        self,
        data: Input,
        axes_: Input = None,
        /,
        *,
        axes: Sequence[int] | None = None,
        keepdims: int | None = None,
        noop_with_empty_axes: int | None = None,
    ) -> Value:
        """``ReduceMin`` (versions 1, 11, 12, 13, 18, 20)."""
        attributes = _given(
            axes=axes,
            keepdims=keepdims,
            noop_with_empty_axes=noop_with_empty_axes,
        )
        return self.emit("ReduceMin", *_present(data, axes_), **attributes)

    def ReduceProd(
        self,
        data: Input,
        axes_: Input = None,
        /,
        *,
        axes: Sequence[int] | None = None,
        keepdims: int | None = None,
        noop_with_empty_axes: int | None = None,
    ) -> Value:
        """``ReduceProd`` (versions 1, 11, 13, 18)."""
        attributes = _given(
            axes=axes,
            keepdims=keepdims,
            noop_with_empty_axes=noop_with_empty_axes,
        )
        return self.emit("ReduceProd", *_present(data, axes_), **attributes)

    def ReduceSum(
        self,
        data: Input,
        axes_: Input = None,
        /,
        *,
        axes: Sequence[int] | None = None,
        keepdims: int | None = None,
        noop_with_empty_axes: int | None = None,
    ) -> Value:
        """``ReduceSum`` (versions 1, 11, 13)."""
        attributes = _given(
            axes=axes,
            keepdims=keepdims,
            noop_with_empty_axes=noop_with_empty_axes,
        )
        return self.emit("ReduceSum", *_present(data, axes_), **attributes)

    def ReduceSumSquare(
        self,
        data: Input,
        axes_: Input = None,
        /,
        *,
        axes: Sequence[int] | None = None,
        keepdims: int | None = None,
        noop_with_empty_axes: int | None = None,
    ) -> Value:
        """``ReduceSumSquare`` (versions 1, 11, 13, 18)."""
        attributes = _given(
            axes=axes,
            keepdims=keepdims,
            noop_with_empty_axes=noop_with_empty_axes,
        )
        return self.emit("ReduceSumSquare", *_present(data, axes_), **attributes)

    def RegexFullMatch(
        self,
        X: Input,
        /,
        *,
        pattern: str | bytes | None = None,
    ) -> Value:
        """``RegexFullMatch`` (versions 20)."""
        attributes = _given(
            pattern=pattern,
        )
        return self.emit("RegexFullMatch", *_present(X), **attributes)

    def Relu(
        self,
        X: Input,
        /,
        *,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``Relu`` (versions 1, 6, 13, 14)."""
        attributes = _given(
            consumed_inputs=consumed_inputs,
        )
        return self.emit("Relu", *_present(X), **attributes)

    def Reshape(
        self,
        data: Input,
        shape_: Input,
        /,
        *,
        allowzero: int | None = None,
        consumed_inputs: Sequence[int] | None = None,
        shape: Sequence[int] | None = None,
    ) -> Value:
        """``Reshape`` (versions 1, 5, 13, 14, 19, 21, 23, 24, 25)."""
        attributes = _given(
            allowzero=allowzero,
            consumed_inputs=consumed_inputs,
            shape=shape,
        )
        return self.emit("Reshape", *_present(data, shape_), **attributes)

    def Resize(
        self,
        X: Input,
        roi: Input = None,
        scales: Input = None,
        sizes: Input = None,
        /,
        *,
        antialias: int | None = None,
        axes: Sequence[int] | None = None,
        coordinate_transformation_mode: str | bytes | None = None,
        cubic_coeff_a: float | None = None,
        exclude_outside: int | None = None,
        extrapolation_value: float | None = None,
        keep_aspect_ratio_policy: str | bytes | None = None,
        mode: str | bytes | None = None,
        nearest_mode: str | bytes | None = None,
    ) -> Value:
        """``Resize`` (versions 10, 11, 13, 18, 19)."""
        attributes = _given(
            antialias=antialias,
            axes=axes,
            coordinate_transformation_mode=coordinate_transformation_mode,
            cubic_coeff_a=cubic_coeff_a,
            exclude_outside=exclude_outside,
            extrapolation_value=extrapolation_value,
            keep_aspect_ratio_policy=keep_aspect_ratio_policy,
            mode=mode,
            nearest_mode=nearest_mode,
        )
        return self.emit("Resize", *_present(X, roi, scales, sizes), **attributes)

    def ReverseSequence(
        self,
        input: Input,
        sequence_lens: Input,
        /,
        *,
        batch_axis: int | None = None,
        time_axis: int | None = None,
    ) -> Value:
        """``ReverseSequence`` (versions 10, 28)."""
        attributes = _given(
            batch_axis=batch_axis,
            time_axis=time_axis,
        )
        return self.emit("ReverseSequence", *_present(input, sequence_lens), **attributes)

    def RoiAlign(
        self,
        X: Input,
        rois: Input,
        batch_indices: Input,
        /,
        *,
        coordinate_transformation_mode: str | bytes | None = None,
        mode: str | bytes | None = None,
        output_height: int | None = None,
        output_width: int | None = None,
        sampling_ratio: int | None = None,
        spatial_scale: float | None = None,
    ) -> Value:
        """``RoiAlign`` (versions 10, 16, 22)."""
        attributes = _given(
            coordinate_transformation_mode=coordinate_transformation_mode,
            mode=mode,
            output_height=output_height,
            output_width=output_width,
            sampling_ratio=sampling_ratio,
            spatial_scale=spatial_scale,
        )
        return self.emit("RoiAlign", *_present(X, rois, batch_indices), **attributes)

    def RotaryEmbedding(
        self,
        X: Input,
        cos_cache: Input,
        sin_cache: Input,
        position_ids: Input = None,
        /,
        *,
        interleaved: int | None = None,
        num_heads: int | None = None,
        rotary_embedding_dim: int | None = None,
    ) -> Value:
        """``RotaryEmbedding`` (versions 23)."""
        attributes = _given(
            interleaved=interleaved,
            num_heads=num_heads,
            rotary_embedding_dim=rotary_embedding_dim,
        )
        return self.emit("RotaryEmbedding", *_present(X, cos_cache, sin_cache, position_ids), **attributes)

    def Round(
        self,
        X: Input,
        /,
    ) -> Value:
        """``Round`` (versions 11, 22)."""
        return self.emit("Round", *_present(X))

    def STFT(
        self,
        signal: Input,
        frame_step: Input,
        window: Input = None,
        frame_length: Input = None,
        /,
        *,
        onesided: int | None = None,
    ) -> Value:
        """``STFT`` (versions 17)."""
        attributes = _given(
            onesided=onesided,
        )
        return self.emit("STFT", *_present(signal, frame_step, window, frame_length), **attributes)

    def Scan(
        self,
        *initial_state_and_scan_inputs: Input,
        body: onnx.GraphProto | None = None,
        directions: Sequence[int] | None = None,
        num_scan_inputs: int | None = None,
        scan_input_axes: Sequence[int] | None = None,
        scan_input_directions: Sequence[int] | None = None,
        scan_output_axes: Sequence[int] | None = None,
        scan_output_directions: Sequence[int] | None = None,
        outputs: int = 1,
    ) -> tuple[Value, ...]:
        """``Scan`` (versions 8, 9, 11, 16, 19, 21, 23, 24, 25)."""
        attributes = _given(
            body=body,
            directions=directions,
            num_scan_inputs=num_scan_inputs,
            scan_input_axes=scan_input_axes,
            scan_input_directions=scan_input_directions,
            scan_output_axes=scan_output_axes,
            scan_output_directions=scan_output_directions,
        )
        return self.emit_many("Scan", *_present(*initial_state_and_scan_inputs), outputs=outputs, **attributes)

    def Scatter(
        self,
        data: Input,
        indices: Input,
        updates: Input,
        /,
        *,
        axis: int | None = None,
    ) -> Value:
        """``Scatter`` (versions 9)."""
        attributes = _given(
            axis=axis,
        )
        return self.emit("Scatter", *_present(data, indices, updates), **attributes)

    def ScatterElements(
        self,
        data: Input,
        indices: Input,
        updates: Input,
        /,
        *,
        axis: int | None = None,
        reduction: str | bytes | None = None,
    ) -> Value:
        """``ScatterElements`` (versions 11, 13, 16, 18)."""
        attributes = _given(
            axis=axis,
            reduction=reduction,
        )
        return self.emit("ScatterElements", *_present(data, indices, updates), **attributes)

    def ScatterND(
        self,
        data: Input,
        indices: Input,
        updates: Input,
        /,
        *,
        reduction: str | bytes | None = None,
    ) -> Value:
        """``ScatterND`` (versions 11, 13, 16, 18)."""
        attributes = _given(
            reduction=reduction,
        )
        return self.emit("ScatterND", *_present(data, indices, updates), **attributes)

    def Selu(
        self,
        X: Input,
        /,
        *,
        alpha: float | None = None,
        consumed_inputs: Sequence[int] | None = None,
        gamma: float | None = None,
    ) -> Value:
        """``Selu`` (versions 1, 6, 22)."""
        attributes = _given(
            alpha=alpha,
            consumed_inputs=consumed_inputs,
            gamma=gamma,
        )
        return self.emit("Selu", *_present(X), **attributes)

    def SequenceAt(
        self,
        input_sequence: Input,
        position: Input,
        /,
    ) -> Value:
        """``SequenceAt`` (versions 11)."""
        return self.emit("SequenceAt", *_present(input_sequence, position))

    def SequenceConstruct(
        self,
        *inputs: Input,
    ) -> Value:
        """``SequenceConstruct`` (versions 11)."""
        return self.emit("SequenceConstruct", *_present(*inputs))

    def SequenceEmpty(
        self,
        *,
        dtype: int | None = None,
    ) -> Value:
        """``SequenceEmpty`` (versions 11)."""
        attributes = _given(
            dtype=dtype,
        )
        return self.emit("SequenceEmpty", **attributes)

    def SequenceErase(
        self,
        input_sequence: Input,
        position: Input = None,
        /,
    ) -> Value:
        """``SequenceErase`` (versions 11)."""
        return self.emit("SequenceErase", *_present(input_sequence, position))

    def SequenceInsert(
        self,
        input_sequence: Input,
        tensor: Input,
        position: Input = None,
        /,
    ) -> Value:
        """``SequenceInsert`` (versions 11)."""
        return self.emit("SequenceInsert", *_present(input_sequence, tensor, position))

    def SequenceLength(
        self,
        input_sequence: Input,
        /,
    ) -> Value:
        """``SequenceLength`` (versions 11)."""
        return self.emit("SequenceLength", *_present(input_sequence))

    def SequenceMap(
        self,
        input_sequence: Input,
        *additional_inputs: Input,
        body: onnx.GraphProto | None = None,
        outputs: int = 1,
    ) -> tuple[Value, ...]:
        """``SequenceMap`` (versions 17)."""
        attributes = _given(
            body=body,
        )
        return self.emit_many(
            "SequenceMap",
            *_present(input_sequence, *additional_inputs),
            outputs=outputs,
            **attributes,
        )

    def Shape(
        self,
        data: Input,
        /,
        *,
        end: int | None = None,
        start: int | None = None,
    ) -> Value:
        """``Shape`` (versions 1, 13, 15, 19, 21, 23, 24, 25)."""
        attributes = _given(
            end=end,
            start=start,
        )
        return self.emit("Shape", *_present(data), **attributes)

    def Shrink(
        self,
        input: Input,
        /,
        *,
        bias: float | None = None,
        lambd: float | None = None,
    ) -> Value:
        """``Shrink`` (versions 9)."""
        attributes = _given(
            bias=bias,
            lambd=lambd,
        )
        return self.emit("Shrink", *_present(input), **attributes)

    def Sigmoid(
        self,
        X: Input,
        /,
        *,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``Sigmoid`` (versions 1, 6, 13)."""
        attributes = _given(
            consumed_inputs=consumed_inputs,
        )
        return self.emit("Sigmoid", *_present(X), **attributes)

    def Sign(
        self,
        input: Input,
        /,
    ) -> Value:
        """``Sign`` (versions 9, 13)."""
        return self.emit("Sign", *_present(input))

    def Sin(
        self,
        input: Input,
        /,
    ) -> Value:
        """``Sin`` (versions 7, 22)."""
        return self.emit("Sin", *_present(input))

    def Sinh(
        self,
        input: Input,
        /,
    ) -> Value:
        """``Sinh`` (versions 9, 22)."""
        return self.emit("Sinh", *_present(input))

    def Size(
        self,
        data: Input,
        /,
    ) -> Value:
        """``Size`` (versions 1, 13, 19, 21, 23, 24, 25)."""
        return self.emit("Size", *_present(data))

    def Slice(
        self,
        data: Input,
        starts_: Input,
        ends_: Input,
        axes_: Input = None,
        steps: Input = None,
        /,
        *,
        axes: Sequence[int] | None = None,
        ends: Sequence[int] | None = None,
        starts: Sequence[int] | None = None,
    ) -> Value:
        """``Slice`` (versions 1, 10, 11, 13)."""
        attributes = _given(
            axes=axes,
            ends=ends,
            starts=starts,
        )
        return self.emit("Slice", *_present(data, starts_, ends_, axes_, steps), **attributes)

    def Softmax(
        self,
        input: Input,
        /,
        *,
        axis: int | None = None,
    ) -> Value:
        """``Softmax`` (versions 1, 11, 13)."""
        attributes = _given(
            axis=axis,
        )
        return self.emit("Softmax", *_present(input), **attributes)

    def SoftmaxCrossEntropyLoss(
        self,
        scores: Input,
        labels: Input,
        weights: Input = None,
        /,
        *,
        ignore_index: int | None = None,
        reduction: str | bytes | None = None,
        outputs: int = 1,
    ) -> tuple[Value, ...]:
        """``SoftmaxCrossEntropyLoss`` (versions 12, 13)."""
        attributes = _given(
            ignore_index=ignore_index,
            reduction=reduction,
        )
        return self.emit_many(
            "SoftmaxCrossEntropyLoss",
            *_present(scores, labels, weights),
            outputs=outputs,
            **attributes,
        )

    def Softplus(
        self,
        X: Input,
        /,
    ) -> Value:
        """``Softplus`` (versions 1, 22)."""
        return self.emit("Softplus", *_present(X))

    def Softsign(
        self,
        input: Input,
        /,
    ) -> Value:
        """``Softsign`` (versions 1, 22)."""
        return self.emit("Softsign", *_present(input))

    def SpaceToDepth(
        self,
        input: Input,
        /,
        *,
        blocksize: int | None = None,
        mode: str | bytes | None = None,
    ) -> Value:
        """``SpaceToDepth`` (versions 1, 13, 28)."""
        attributes = _given(
            blocksize=blocksize,
            mode=mode,
        )
        return self.emit("SpaceToDepth", *_present(input), **attributes)

    def Split(
        self,
        input: Input,
        split_: Input = None,
        /,
        *,
        axis: int | None = None,
        num_outputs: int | None = None,
        split: Sequence[int] | None = None,
        outputs: int = 1,
    ) -> tuple[Value, ...]:
        """``Split`` (versions 1, 2, 11, 13, 18)."""
        attributes = _given(
            axis=axis,
            num_outputs=num_outputs,
            split=split,
        )
        return self.emit_many("Split", *_present(input, split_), outputs=outputs, **attributes)

    def SplitToSequence(
        self,
        input: Input,
        split: Input = None,
        /,
        *,
        axis: int | None = None,
        keepdims: int | None = None,
    ) -> Value:
        """``SplitToSequence`` (versions 11, 24)."""
        attributes = _given(
            axis=axis,
            keepdims=keepdims,
        )
        return self.emit("SplitToSequence", *_present(input, split), **attributes)

    def Sqrt(
        self,
        X: Input,
        /,
        *,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``Sqrt`` (versions 1, 6, 13)."""
        attributes = _given(
            consumed_inputs=consumed_inputs,
        )
        return self.emit("Sqrt", *_present(X), **attributes)

    def Squeeze(
        self,
        data: Input,
        axes_: Input = None,
        /,
        *,
        axes: Sequence[int] | None = None,
    ) -> Value:
        """``Squeeze`` (versions 1, 11, 13, 21, 23, 24, 25)."""
        attributes = _given(
            axes=axes,
        )
        return self.emit("Squeeze", *_present(data, axes_), **attributes)

    def StringConcat(
        self,
        X: Input,
        Y: Input,
        /,
    ) -> Value:
        """``StringConcat`` (versions 20)."""
        return self.emit("StringConcat", *_present(X, Y))

    def StringNormalizer(
        self,
        X: Input,
        /,
        *,
        case_change_action: str | bytes | None = None,
        is_case_sensitive: int | None = None,
        locale: str | bytes | None = None,
        stopwords: Sequence[str | bytes] | None = None,
    ) -> Value:
        """``StringNormalizer`` (versions 10)."""
        attributes = _given(
            case_change_action=case_change_action,
            is_case_sensitive=is_case_sensitive,
            locale=locale,
            stopwords=stopwords,
        )
        return self.emit("StringNormalizer", *_present(X), **attributes)

    def StringSplit(
        self,
        X: Input,
        /,
        *,
        delimiter: str | bytes | None = None,
        maxsplit: int | None = None,
        outputs: int = 2,
    ) -> tuple[Value, ...]:
        """``StringSplit`` (versions 20)."""
        attributes = _given(
            delimiter=delimiter,
            maxsplit=maxsplit,
        )
        return self.emit_many("StringSplit", *_present(X), outputs=outputs, **attributes)

    def Sub(
        self,
        A: Input,
        B: Input,
        /,
        *,
        axis: int | None = None,
        broadcast: int | None = None,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``Sub`` (versions 1, 6, 7, 13, 14)."""
        attributes = _given(
            axis=axis,
            broadcast=broadcast,
            consumed_inputs=consumed_inputs,
        )
        return self.emit("Sub", *_present(A, B), **attributes)

    def Sum(
        self,
        *data_0: Input,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``Sum`` (versions 1, 6, 8, 13)."""
        attributes = _given(
            consumed_inputs=consumed_inputs,
        )
        return self.emit("Sum", *_present(*data_0), **attributes)

    def SwiGLU(
        self,
        A: Input,
        B: Input,
        /,
        *,
        alpha: float | None = None,
    ) -> Value:
        """``SwiGLU`` (versions 28)."""
        attributes = _given(
            alpha=alpha,
        )
        return self.emit("SwiGLU", *_present(A, B), **attributes)

    def Swish(
        self,
        X: Input,
        /,
        *,
        alpha: float | None = None,
    ) -> Value:
        """``Swish`` (versions 24)."""
        attributes = _given(
            alpha=alpha,
        )
        return self.emit("Swish", *_present(X), **attributes)

    def Tan(
        self,
        input: Input,
        /,
    ) -> Value:
        """``Tan`` (versions 7, 22)."""
        return self.emit("Tan", *_present(input))

    def Tanh(
        self,
        input: Input,
        /,
        *,
        consumed_inputs: Sequence[int] | None = None,
    ) -> Value:
        """``Tanh`` (versions 1, 6, 13)."""
        attributes = _given(
            consumed_inputs=consumed_inputs,
        )
        return self.emit("Tanh", *_present(input), **attributes)

    def TensorScatter(
        self,
        past_cache: Input,
        update: Input,
        write_indices: Input = None,
        /,
        *,
        axis: int | None = None,
        mode: str | bytes | None = None,
    ) -> Value:
        """``TensorScatter`` (versions 24)."""
        attributes = _given(
            axis=axis,
            mode=mode,
        )
        return self.emit("TensorScatter", *_present(past_cache, update, write_indices), **attributes)

    def TfIdfVectorizer(
        self,
        X: Input,
        /,
        *,
        max_gram_length: int | None = None,
        max_skip_count: int | None = None,
        min_gram_length: int | None = None,
        mode: str | bytes | None = None,
        ngram_counts: Sequence[int] | None = None,
        ngram_indexes: Sequence[int] | None = None,
        pool_int64s: Sequence[int] | None = None,
        pool_strings: Sequence[str | bytes] | None = None,
        weights: Sequence[float] | None = None,
    ) -> Value:
        """``TfIdfVectorizer`` (versions 9)."""
        attributes = _given(
            max_gram_length=max_gram_length,
            max_skip_count=max_skip_count,
            min_gram_length=min_gram_length,
            mode=mode,
            ngram_counts=ngram_counts,
            ngram_indexes=ngram_indexes,
            pool_int64s=pool_int64s,
            pool_strings=pool_strings,
            weights=weights,
        )
        return self.emit("TfIdfVectorizer", *_present(X), **attributes)

    def ThresholdedRelu(
        self,
        X: Input,
        /,
        *,
        alpha: float | None = None,
    ) -> Value:
        """``ThresholdedRelu`` (versions 10, 22)."""
        attributes = _given(
            alpha=alpha,
        )
        return self.emit("ThresholdedRelu", *_present(X), **attributes)

    def Tile(
        self,
        input: Input,
        repeats: Input,
        /,
    ) -> Value:
        """``Tile`` (versions 1, 6, 13)."""
        return self.emit("Tile", *_present(input, repeats))

    def TopK(
        self,
        X: Input,
        K: Input,
        /,
        *,
        axis: int | None = None,
        k: int | None = None,
        largest: int | None = None,
        sorted: int | None = None,
        outputs: int = 2,
    ) -> tuple[Value, ...]:
        """``TopK`` (versions 1, 10, 11, 24)."""
        attributes = _given(
            axis=axis,
            k=k,
            largest=largest,
            sorted=sorted,
        )
        return self.emit_many("TopK", *_present(X, K), outputs=outputs, **attributes)

    def Transpose(
        self,
        data: Input,
        /,
        *,
        perm: Sequence[int] | None = None,
    ) -> Value:
        """``Transpose`` (versions 1, 13, 21, 23, 24, 25)."""
        attributes = _given(
            perm=perm,
        )
        return self.emit("Transpose", *_present(data), **attributes)

    def Trilu(
        self,
        input: Input,
        k: Input = None,
        /,
        *,
        upper: int | None = None,
    ) -> Value:
        """``Trilu`` (versions 14)."""
        attributes = _given(
            upper=upper,
        )
        return self.emit("Trilu", *_present(input, k), **attributes)

    def Unique(
        self,
        X: Input,
        /,
        *,
        axis: int | None = None,
        sorted: int | None = None,
        outputs: int = 1,
    ) -> tuple[Value, ...]:
        """``Unique`` (versions 11, 28)."""
        attributes = _given(
            axis=axis,
            sorted=sorted,
        )
        return self.emit_many("Unique", *_present(X), outputs=outputs, **attributes)

    def Unsqueeze(
        self,
        data: Input,
        axes_: Input,
        /,
        *,
        axes: Sequence[int] | None = None,
    ) -> Value:
        """``Unsqueeze`` (versions 1, 11, 13, 21, 23, 24, 25)."""
        attributes = _given(
            axes=axes,
        )
        return self.emit("Unsqueeze", *_present(data, axes_), **attributes)

    def Upsample(
        self,
        X: Input,
        scales_: Input,
        /,
        *,
        height_scale: float | None = None,
        mode: str | bytes | None = None,
        scales: Sequence[float] | None = None,
        width_scale: float | None = None,
    ) -> Value:
        """``Upsample`` (versions 1, 7, 9)."""
        attributes = _given(
            height_scale=height_scale,
            mode=mode,
            scales=scales,
            width_scale=width_scale,
        )
        return self.emit("Upsample", *_present(X, scales_), **attributes)

    def Where(
        self,
        condition: Input,
        X: Input,
        Y: Input,
        /,
    ) -> Value:
        """``Where`` (versions 9, 16)."""
        return self.emit("Where", *_present(condition, X, Y))

    def Xor(
        self,
        A: Input,
        B: Input,
        /,
        *,
        axis: int | None = None,
        broadcast: int | None = None,
    ) -> Value:
        """``Xor`` (versions 1, 7)."""
        attributes = _given(
            axis=axis,
            broadcast=broadcast,
        )
        return self.emit("Xor", *_present(A, B), **attributes)

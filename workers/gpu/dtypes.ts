// The source dtypes the engine reads and converts to fp16 on the GPU (kernels/convert-to-f16.ts), with their bytes per
// element: the safetensors names, since that is the format the weights come in.
export const SUPPORTED_DTYPES = { F16: 2, BF16: 2, F32: 4 } as const;
export type TensorDtype = keyof typeof SUPPORTED_DTYPES;

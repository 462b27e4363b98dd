// The per-forward uniform a kernel reads to know its rows and positions (kernels/step.ts: its byte size and the
// owners that put this file in front of their kernel, as the int8 dot4 files are):
//   tokens: rows of x in this forward (the prompt chunk's length, or 1 when decoding)
//   pos:    the position of the first row
//   kv_len: pos + tokens, the positions the KV cache holds after this forward
struct Step { tokens: u32, pos: u32, kv_len: u32, _pad: u32 }

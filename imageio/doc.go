// Package imageio is pairflow's one home of image decoding, used by the
// packer, the pipeline and the preview tools. It decodes JPEG, PNG, GIF
// (first frame), BMP, TIFF and WebP (standard library and golang.org/x/image)
// and the raw shard encodings, into a caller-owned, reusable pix.Image of 8-bit
// gray (1 channel) or RGB (3 channels) HWC pixels.
//
// Safety: the image header is read first (for JPEG straight from the frame
// header's bytes, otherwise with the format's DecodeConfig) and an image
// whose width*height exceeds the pixel budget (Decoder.MaxPixels, default
// DefaultMaxPixels), or whose side exceeds pix.MaxSide, is refused with a
// *BudgetError before any pixel is decoded, so decompression bombs cost
// nothing.
//
// Conversion rules (what every source type becomes):
//
//   - Channels: Decoder.Channels 1 gives gray, 3 gives RGB, 0 keeps the
//     source's nature (1 for Gray/Gray16 sources and 1-channel raw records,
//     3 otherwise).
//   - 16-bit samples become 8-bit by rounding: v8 = (v16*255 + 32767) / 65535.
//   - Alpha is composited over BLACK: an 8-bit non-premultiplied sample c with
//     alpha a becomes (c*a + 127) / 255; premultiplied sources (image.RGBA,
//     RGBA64, and any type read through color.Color.RGBA) are already over
//     black. Fully transparent pixels are therefore black.
//   - RGB to gray: ITU-R BT.601 luma, Y = (19595 R + 38470 G + 7471 B + 32768) >> 16
//     (the same as color.GrayModel). Gray to RGB replicates the sample.
//   - YCbCr (JPEG, lossy WebP) to RGB: exactly color.YCbCrToRGB, with chroma
//     taken from the sample that covers the pixel for every subsampling ratio.
//     YCbCr to gray takes the Y plane as-is.
//   - CMYK to RGB: exactly color.CMYKToRGB (the JPEG decoder has already
//     un-inverted Adobe CMYK).
//   - Paletted: each palette entry is converted once by the rules above.
//   - EXIF orientation (JPEG APP1 tag 0x0112, values 2..8) is applied so the
//     result is upright, unless Decoder.IgnoreOrientation is set.
//
// Fast paths read the pixel buffers of image.YCbCr, Gray, RGBA, NRGBA, CMYK,
// Gray16 and Paletted directly; every other type goes through the generic
// color.Color path. Tests check each fast path against a per-pixel reference.
// On amd64 the 4:2:0/4:2:2 YCbCr to RGB rows run an AVX2 kernel with the
// same exact integer arithmetic (tested over all 2^24 inputs); the build
// tags purego and noasm, or PAIRFLOW_TIER=generic, select the plain Go.
//
// JPEG decoders: the default build decodes JPEG with Go's image/jpeg. Built
// with the turbojpeg tag (and cgo, and Debian's libturbojpeg0-dev or the
// like), it decodes with libjpeg-turbo instead, about 4x faster on photos:
// its accurate integer IDCT and triangle-filter chroma upsampling give the
// very bytes PIL (and so torchvision) decodes to, and a damaged stream is
// an error rather than gray padding. The two decoders' pixels differ
// slightly (luma by under 0.5 levels on average per photo in data/photos),
// so a pipeline's output is reproducible within one build; JPEGDecoder
// names the one in use. CMYK and YCCK JPEGs go to image/jpeg in both
// builds.
//
// This package does not resize or augment (see ops) and does not read shard
// files (see shards); DecodeRecord decodes a record that shards has read.
package imageio

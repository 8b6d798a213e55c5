// Block decompression for the columnar readers: SNAPPY (raw, as Parquet stores it), GZIP and ZSTD
// frames, through Debian's libsnappy, zlib and libzstd. The caller knows the decompressed size (both
// formats record it), so a block that inflates to anything else is an error, never an overrun.
#pragma once

#include <string>
#include <string_view>

#include "util/error.h"

namespace prefer::io {

enum class Codec { Uncompressed, Snappy, Gzip, Zstd };

const char* codec_name(Codec c);

// `input` decompressed to exactly `size` bytes; an Error naming `ctx` when it is corrupt or of another size.
std::string decompress(Codec codec, std::string_view input, size_t size, const ErrorContext& ctx);

}  // namespace prefer::io

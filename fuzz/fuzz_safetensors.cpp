// A safetensors file: header JSON, dtypes, shapes and offsets all checked before any view is handed out.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>

#include "io/safetensors.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/prefer-fuzz-" + std::to_string(::getpid()) + ".safetensors";
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    prefer::io::SafetensorsFile file(path);
    for (const auto& t : file.tensors()) {
      prefer::io::TensorView v = file.view(t);
      volatile unsigned char sink = 0;
      if (v.nbytes > 0) sink = static_cast<unsigned char>(v.data[0]) ^ static_cast<unsigned char>(v.data[v.nbytes - 1]);
      (void)sink;
    }
  } catch (const prefer::Error&) {
  }
  return 0;
}

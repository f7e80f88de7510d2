--- gguf_reader: reads a GGUF file (metadata, tensor descriptions, f32/f16/q8_0 values) for the tests, independently
-- of darwinhost's writer: the layout is GGUF version 3 as llama.cpp's gguf.c reads it.
local reader = {}

local scalar = {[0] = "B", [1] = "b", [2] = "<I2", [3] = "<i2", [4] = "<I4", [5] = "<i4", [6] = "<f", [7] = "B",
                [8] = "<s8", [10] = "<I8", [11] = "<i8", [12] = "<d"}

local function value(data, pos, t)
  if t == 9 then
    local element, count, p = string.unpack("<I4I8", data, pos)
    local list = {}
    for i = 1, count do list[i], p = value(data, p, element) end
    return list, p
  end
  local v, p = string.unpack(scalar[t], data, pos)
  if t == 7 then v = v ~= 0 end
  return v, p
end

--- Reads `path`: {version, metadata = {key = value}, tensors = {name = {dims, type, offset}}, names = {...}, data, base}.
function reader.read(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("a")
  f:close()
  local magic, version, tensors, kvs, pos = string.unpack("<c4I4I8I8", data)
  assert(magic == "GGUF", path .. ": not a GGUF file")
  local out = {version = version, metadata = {}, tensors = {}, names = {}, data = data}
  for _ = 1, kvs do
    local key, t
    key, t, pos = string.unpack("<s8I4", data, pos)
    out.metadata[key], pos = value(data, pos, t)
  end
  for i = 1, tensors do
    local name, n
    name, n, pos = string.unpack("<s8I4", data, pos)
    local dims = {}
    for d = 1, n do dims[d], pos = string.unpack("<I8", data, pos) end
    local type, offset
    type, offset, pos = string.unpack("<I4I8", data, pos)
    out.tensors[name] = {dims = dims, type = type, offset = offset}
    out.names[i] = name
  end
  out.base = (pos - 1 + 31) // 32 * 32 + 1
  return out
end

--- Element `index` (0-based, in storage order: ne[0] fastest) of tensor `name`, decoded to a number.
function reader.element(file, name, index)
  local t = file.tensors[name]
  local start = file.base + t.offset
  if t.type == 0 then return (string.unpack("<f", file.data, start + 4 * index)) end
  if t.type == 1 then
    local bits = string.unpack("<I2", file.data, start + 2 * index)
    local sign, exponent, fraction = bits >> 15, (bits >> 10) & 31, bits & 1023
    local v = exponent == 0 and fraction * 2.0^-24 or (1 + fraction / 1024) * 2.0^(exponent - 15)
    return sign == 1 and -v or v
  end
  if t.type == 8 then  -- Q8_0: blocks of an f16 scale and 32 signed bytes
    local block, within = index // 32, index % 32
    local at = start + 34 * block
    local scale = reader.element({tensors = {s = {type = 1, offset = 0}}, base = at, data = file.data}, "s", 0)
    return scale * string.unpack("b", file.data, at + 2 + within), scale
  end
  error("tensor type " .. t.type .. " not read by the tests")
end

return reader

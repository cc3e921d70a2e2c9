using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Engine.Checkpoints;

/// <summary>The contents of a checkpoint file. Disposing it disposes the tensors.</summary>
internal sealed record CheckpointData(string MetadataJson, List<KeyValuePair<string, Tensor>> Tensors) : IDisposable
{
    /// <summary>The tensor called <paramref name="name"/>.</summary>
    internal Tensor this[string name] =>
        Tensors.FirstOrDefault(p => p.Key == name).Value ?? throw new KeyNotFoundException($"The checkpoint holds no tensor named '{name}'.");

    /// <summary>Disposes every tensor.</summary>
    public void Dispose()
    {
        foreach (var pair in Tensors) pair.Value.Dispose();
    }
}

/// <summary>
/// A compact binary file for training state. Layout (little-endian):
/// <code>
/// magic "HSCKPT\r\n" (8) | format version u32 | total file length i64
/// metadata length i32 | metadata UTF-8 JSON
/// tensor count i32 | per tensor: name length i32, name UTF-8, dtype code u8, rank i32, dims i64×rank, data length i64, raw data
/// SHA-256 (32) of every byte before it
/// </code>
/// Files are written to a temporary file in the same folder, flushed to disk and then renamed over the target, so a
/// reader never sees a half-written file. Reading checks length and checksum before parsing and never returns partial data.
/// </summary>
internal static class CheckpointFile
{
    /// <summary>The eight bytes every checkpoint starts with.</summary>
    internal static ReadOnlySpan<byte> Magic => "HSCKPT\r\n"u8;

    /// <summary>The format version written by this code.</summary>
    internal const uint FormatVersion = 1;

    private const int HeaderLength = 8 + 4 + 8;
    private const int HashLength = 32;
    private const int MaxRank = 64;

    // Codes are part of the file format: never renumber.
    private static readonly (ScalarType Type, byte Code, int Size)[] Types =
    [
        (ScalarType.Float32, 1, 4),
        (ScalarType.Float64, 2, 8),
        (ScalarType.Float16, 3, 2),
        (ScalarType.BFloat16, 4, 2),
        (ScalarType.Int64, 5, 8),
        (ScalarType.Int32, 6, 4),
        (ScalarType.Int16, 7, 2),
        (ScalarType.Int8, 8, 1),
        (ScalarType.Byte, 9, 1),
        (ScalarType.Bool, 10, 1),
    ];

    /// <summary>Writes a checkpoint atomically: the file at <paramref name="path"/> is either the old one or the complete new one.</summary>
    internal static void Write(string path, string metadataJson, IReadOnlyList<KeyValuePair<string, Tensor>> tensors)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(metadataJson);
        ArgumentNullException.ThrowIfNull(tensors);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Checkpoint files are written on little-endian machines only.");
        var fullPath = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(fullPath) ?? throw new ArgumentException($"'{path}' has no parent folder.", nameof(path));
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Cannot write checkpoint '{fullPath}': the folder '{directory}' does not exist.");

        var metadata = Encoding.UTF8.GetBytes(metadataJson);
        var names = new byte[tensors.Count][];
        var codes = new byte[tensors.Count];
        long total = HeaderLength + 4 + metadata.Length + 4 + HashLength;
        for (int i = 0; i < tensors.Count; i++)
        {
            var (name, tensor) = (tensors[i].Key, tensors[i].Value);
            if (name is null) throw new ArgumentException($"Tensor {i} has no name.", nameof(tensors));
            if (tensor is null) throw new ArgumentException($"Tensor '{name}' is null.", nameof(tensors));
            names[i] = Encoding.UTF8.GetBytes(name);
            var entry = Array.FindIndex(Types, t => t.Type == tensor.dtype);
            if (entry < 0)
                throw new ArgumentException($"Tensor '{name}' has dtype {tensor.dtype}; checkpoints store {string.Join(", ", Types.Select(t => t.Type))}.", nameof(tensors));
            codes[i] = Types[entry].Code;
            total += 4 + names[i].Length + 1 + 4 + 8L * tensor.ndim + 8 + tensor.numel() * Types[entry].Size;
        }

        var temp = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                var writer = new HashingWriter(stream, hash);
                Span<byte> scratch = stackalloc byte[8];
                writer.Write(Magic);
                BinaryPrimitives.WriteUInt32LittleEndian(scratch, FormatVersion);
                writer.Write(scratch[..4]);
                writer.WriteInt64(total, scratch);
                writer.WriteInt32(metadata.Length, scratch);
                writer.Write(metadata);
                writer.WriteInt32(tensors.Count, scratch);
                for (int i = 0; i < tensors.Count; i++)
                {
                    var tensor = tensors[i].Value;
                    writer.WriteInt32(names[i].Length, scratch);
                    writer.Write(names[i]);
                    writer.Write([codes[i]]);
                    writer.WriteInt32((int)tensor.ndim, scratch);
                    foreach (long d in tensor.shape) writer.WriteInt64(d, scratch);
                    long length = tensor.numel() * tensor.element_size();
                    writer.WriteInt64(length, scratch);
                    if (length > 0) WriteData(writer, tensor);
                }
                if (stream.Position != total - HashLength)
                    throw new InvalidOperationException($"Checkpoint writer produced {stream.Position} bytes before the checksum; expected {total - HashLength}.");
                stream.Write(hash.GetHashAndReset());
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, fullPath, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    private static void WriteData(HashingWriter writer, Tensor tensor)
    {
        using var detached = tensor.detach();
        using var cpu = detached.device_type == DeviceType.CPU ? null : detached.cpu();
        using var contiguous = (cpu ?? detached).contiguous();
        writer.Write(contiguous.bytes);
    }

    /// <summary>
    /// Reads a checkpoint. Throws <see cref="InvalidDataException"/> naming the file when it is not a checkpoint, has an
    /// unsupported version, is truncated or fails its checksum; never returns partial data.
    /// </summary>
    internal static CheckpointData Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Checkpoint files are read on little-endian machines only.");
        var bytes = File.ReadAllBytes(path);
        string Fail(string what) => $"Checkpoint '{path}' {what}";

        int magicPrefix = Math.Min(bytes.Length, Magic.Length);
        if (!bytes.AsSpan(0, magicPrefix).SequenceEqual(Magic[..magicPrefix]))
            throw new InvalidDataException(Fail("has a bad magic: it is not a HyperSparse checkpoint file."));
        if (bytes.Length < HeaderLength)
            throw new InvalidDataException(Fail($"is truncated: {bytes.Length} bytes, shorter than the {HeaderLength}-byte header."));
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        if (version != FormatVersion)
            throw new InvalidDataException(Fail($"has unsupported format version {version}; this code reads version {FormatVersion}."));
        long declared = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(12));
        if (declared < HeaderLength + 8 + HashLength)
            throw new InvalidDataException(Fail($"is corrupt: the header declares an impossible length of {declared} bytes."));
        if (bytes.Length < declared)
            throw new InvalidDataException(Fail($"is truncated: expected {declared} bytes, found {bytes.Length}."));
        if (bytes.Length > declared)
            throw new InvalidDataException(Fail($"is corrupt: expected {declared} bytes, found {bytes.Length} (trailing data)."));
        var body = bytes.AsSpan(0, bytes.Length - HashLength);
        Span<byte> actual = stackalloc byte[HashLength];
        SHA256.HashData(body, actual);
        if (!actual.SequenceEqual(bytes.AsSpan(bytes.Length - HashLength)))
            throw new InvalidDataException(Fail("fails its checksum: SHA-256 mismatch, the file is corrupt."));

        // The checksum matched, so any inconsistency below is a writer bug or a deliberate forgery; still never return partial data.
        var tensors = new List<KeyValuePair<string, Tensor>>();
        try
        {
            var reader = new SpanReader(bytes, HeaderLength, body.Length, path);
            string metadata = reader.ReadString();
            int count = reader.ReadInt32();
            if (count < 0) throw new InvalidDataException(Fail($"is corrupt: negative tensor count {count}."));
            for (int i = 0; i < count; i++)
            {
                string name = reader.ReadString();
                byte code = reader.ReadBytes(1)[0];
                int entry = Array.FindIndex(Types, t => t.Code == code);
                if (entry < 0) throw new InvalidDataException(Fail($"is corrupt: tensor '{name}' has unknown dtype code {code}."));
                int rank = reader.ReadInt32();
                if (rank is < 0 or > MaxRank) throw new InvalidDataException(Fail($"is corrupt: tensor '{name}' has rank {rank}."));
                var shape = new long[rank];
                long elements = 1;
                for (int d = 0; d < rank; d++)
                {
                    shape[d] = reader.ReadInt64();
                    if (shape[d] < 0) throw new InvalidDataException(Fail($"is corrupt: tensor '{name}' has dimension {shape[d]}."));
                    elements = checked(elements * shape[d]);
                }
                long length = reader.ReadInt64();
                if (length != checked(elements * Types[entry].Size))
                    throw new InvalidDataException(Fail($"is corrupt: tensor '{name}' declares {length} data bytes for shape [{string.Join(", ", shape)}]."));
                if (length > int.MaxValue) throw new InvalidDataException(Fail($"holds tensor '{name}' larger than 2 GiB, which this reader does not support."));
                var data = reader.ReadBytes((int)length);
                var tensor = empty(shape, Types[entry].Type);
                tensors.Add(new(name, tensor));
                if (length > 0) tensor.bytes = data;
            }
            if (reader.Position != body.Length)
                throw new InvalidDataException(Fail($"is corrupt: {body.Length - reader.Position} unread bytes before the checksum."));
            return new CheckpointData(metadata, tensors);
        }
        catch (Exception ex)
        {
            foreach (var pair in tensors) pair.Value.Dispose();
            if (ex is OverflowException) throw new InvalidDataException(Fail("is corrupt: a tensor size overflows."), ex);
            throw;
        }
    }

    private readonly struct HashingWriter(Stream stream, IncrementalHash hash)
    {
        internal void Write(ReadOnlySpan<byte> data)
        {
            stream.Write(data);
            hash.AppendData(data);
        }

        internal void WriteInt32(int value, Span<byte> scratch)
        {
            BinaryPrimitives.WriteInt32LittleEndian(scratch, value);
            Write(scratch[..4]);
        }

        internal void WriteInt64(long value, Span<byte> scratch)
        {
            BinaryPrimitives.WriteInt64LittleEndian(scratch, value);
            Write(scratch[..8]);
        }
    }

    private ref struct SpanReader(byte[] bytes, int position, int end, string path)
    {
        internal int Position { get; private set; } = position;

        internal Span<byte> ReadBytes(int count)
        {
            if (count < 0 || count > end - Position)
                throw new InvalidDataException($"Checkpoint '{path}' is corrupt: a field at byte {Position} runs past the end of the data.");
            var span = bytes.AsSpan(Position, count);
            Position += count;
            return span;
        }

        internal int ReadInt32() => BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4));

        internal long ReadInt64() => BinaryPrimitives.ReadInt64LittleEndian(ReadBytes(8));

        internal string ReadString() => Encoding.UTF8.GetString(ReadBytes(ReadInt32()));
    }
}

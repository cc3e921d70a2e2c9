namespace Microsoft.ML.HyperSparse.Engine.Pretrained;

/// <summary>
/// The one entry for pretrained weights: a keyword or a file, told apart by its first bytes (not its extension).
/// </summary>
internal static class PretrainedFiles
{
    /// <summary>The keyword for ML.NET's ImageNet ResNet-18 (NuGet <see cref="MLNetResNet18.PackageId"/>).</summary>
    public const string ImageNetKeyword = "imagenet";

    /// <summary>What <see cref="Read"/> takes, for messages.</summary>
    public const string AcceptedFormats =
        $"'{ImageNetKeyword}' (ML.NET's ResNet-18), an ONNX file of a ResNet-18/34 (torch.onnx.export of a torchvision model, " +
        "or a HyperSparse export of an ImageNet ResNet), or a PyTorch state_dict of one saved with torch.save (PyTorch ≥ 1.6)";

    /// <summary>
    /// Reads <paramref name="pathOrKeyword"/>: <see cref="ImageNetKeyword"/> gives ML.NET's ResNet-18; a file starting with
    /// "PK" (a zip) or 0x80 (a pickle) is read as a PyTorch state_dict; a protobuf ModelProto as ONNX (CNTK's exports by
    /// <see cref="MLNetResNet18"/>, the others by <see cref="TorchvisionOnnx"/>).
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file; the message names it.</exception>
    /// <exception cref="InvalidDataException">A file of no accepted format, or one whose network is not supported; the message names the file.</exception>
    public static PretrainedWeights Read(string pathOrKeyword)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pathOrKeyword);
        if (string.Equals(pathOrKeyword.Trim(), ImageNetKeyword, StringComparison.OrdinalIgnoreCase))
            return MLNetResNet18.ReadWeights();

        string file = Path.GetFullPath(pathOrKeyword);
        if (!File.Exists(file))
            throw new FileNotFoundException(
                $"The pretrained weights file '{file}' does not exist. Accepted: {AcceptedFormats}.", file);

        var head = new byte[4];
        int read;
        using (var stream = File.OpenRead(file))
            read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);

        switch (Kind(head.AsSpan(0, read), file))
        {
            case FileKind.TorchSave:
                return TorchStateDict.Read(file);
            case FileKind.Onnx:
                // CNTK's export (ML.NET's ResNet-18) pads stride-2 layers per side and needs its own reader.
                var onnx = ReadOnnx(file);
                return onnx.ProducerName == "CNTK"
                    ? MLNetResNet18.Weights(onnx, file, MLNetResNet18.ChannelMeans(file))
                    : TorchvisionOnnx.Weights(onnx, file);
            default:
                throw new InvalidDataException(
                    $"Cannot load pretrained weights from '{file}': found {(read == 0 ? "an empty file" : $"a file starting with bytes {Convert.ToHexString(head, 0, read)}")}, " +
                    $"which is neither ONNX nor a torch.save file. Accepted: {AcceptedFormats}.");
        }
    }

    private enum FileKind { Unknown, Onnx, TorchSave }

    /// <summary>
    /// torch.save writes a zip ("PK\x03\x04"; pre-1.6 a pickle, protocol opcode 0x80). An ONNX ModelProto starts with a
    /// protobuf field tag; writers put ir_version (field 1, tag 0x08) first, but any ModelProto field may come first, so any
    /// of their tags is taken, and a file named .onnx too (its parse error then says what is wrong).
    /// </summary>
    private static FileKind Kind(ReadOnlySpan<byte> head, string file)
    {
        if (head.Length >= 2 && head[0] == (byte)'P' && head[1] == (byte)'K') return FileKind.TorchSave;
        if (head.Length >= 1 && head[0] == 0x80) return FileKind.TorchSave;
        // ModelProto fields 1–8 and 14 (metadata_props) with their wire types (varint for 1 and 5, length-delimited otherwise).
        ReadOnlySpan<byte> modelTags = [0x08, 0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72];
        if (head.Length >= 2 && modelTags.Contains(head[0])) return FileKind.Onnx;
        if (head.Length >= 1 && Path.GetExtension(file).Equals(".onnx", StringComparison.OrdinalIgnoreCase)) return FileKind.Onnx;
        return FileKind.Unknown;
    }

    private static global::Onnx.ModelProto ReadOnnx(string file)
    {
        long length = new FileInfo(file).Length;
        if (length > TorchvisionOnnx.MaxFileBytes)
            throw new InvalidDataException(
                $"Cannot load ResNet weights from the ONNX file '{file}': found a file of {length:N0} bytes; the limit is {TorchvisionOnnx.MaxFileBytes:N0} bytes.");
        return Onnx.OnnxModelReader.Parse(File.ReadAllBytes(file), file);
    }
}

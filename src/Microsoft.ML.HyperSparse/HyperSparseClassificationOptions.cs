using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Regularization;
using Microsoft.ML.HyperSparse.Engine.Training;
using Microsoft.ML.HyperSparse.Onnx;

namespace Microsoft.ML.HyperSparse;

/// <summary>The convolutional networks <see cref="HyperSparseClassificationTrainer"/> can train.</summary>
public enum HyperSparseArchitecture
{
    /// <summary>LeNet-5 (two 5×5 convolutions, 120-84 fully connected); 61,470 prunable weights on 28×28 grayscale. Fast on a CPU.</summary>
    LeNet5,
    /// <summary>Multi-layer perceptron 300-100 on the flattened image.</summary>
    Mlp,
    /// <summary>CIFAR-style ResNet-20, 16/32/64 channels (≈270k prunable weights).</summary>
    ResNet20,
    /// <summary>The paper's ResNet-32 at double width, 32/64/128 channels (1,855,584 prunable weights on 32×32×3, 10 classes).</summary>
    ResNet32,
    /// <summary>The paper's VGG-19 with batch normalisation, CIFAR variant (20,024,000 prunable weights, 10 classes).</summary>
    Vgg19,
    /// <summary>
    /// torchvision's ImageNet ResNet-18: 7×7/2 stem and 3×3/2 max-pool, basic blocks [2, 2, 2, 2] 64-128-256-512 wide,
    /// global average pooling, one linear classifier (11,172,032 prunable weights for 10 classes at any image size).
    /// Images of at least 32×32 pixels; 64×64 is a good size on a CPU.
    /// </summary>
    ResNet18,
    /// <summary>
    /// torchvision's ImageNet ResNet-34: as <see cref="ResNet18"/> with blocks [3, 4, 6, 3] (21,272,768 prunable weights for
    /// 10 classes). Images of at least 32×32 pixels.
    /// </summary>
    ResNet34,
    /// <summary>
    /// The ResNet-18 ML.NET ships (Microsoft.ML.DnnImageFeaturizer.ResNet18): as <see cref="ResNet18"/> with blocks
    /// [2, 2, 2, 3], one more block in the last stage (15,890,624 prunable weights for 10 classes). Images of at least
    /// 32×32 pixels.
    /// </summary>
    ResNet18MLNet,
}

/// <summary>The sparsity-inducing regulariser used during Adaptive Regularized Training.</summary>
public enum HyperSparseRegularizerKind
{
    /// <summary>The paper's HyperSparse loss with its adaptive scale (default).</summary>
    HyperSparse,
    /// <summary>Plain L1 (Σ|w|), for comparison.</summary>
    L1,
    /// <summary>Plain L2 (Σw²), for comparison.</summary>
    L2,
}

/// <summary>How the network reaches the requested sparsity.</summary>
public enum HyperSparsePruningMethod
{
    /// <summary>Adaptive Regularized Training: regularise until the pruned network matches the dense one, then prune and fine-tune (default).</summary>
    AdaptiveRegularizedTraining,
    /// <summary>Baseline: train dense for the warm-up epochs, prune by magnitude once, fine-tune.</summary>
    OneShotMagnitude,
}

/// <summary>How pruned weights are stored in the exported ONNX model.</summary>
public enum HyperSparseWeightEncoding
{
    /// <summary>
    /// Kept values of all pruned layers in one tensor, their positions in one Rice-coded gap stream, rebuilt by standard ops
    /// that ONNX Runtime folds at load (default; smallest — within a few percent of the information bound on large models).
    /// </summary>
    Compact,
    /// <summary>
    /// Standard ONNX sparse tensors (INT64 linear indices) in <c>Constant</c> nodes' <c>sparse_value</c>, for tools that
    /// read that form; passes <c>onnx.checker</c>'s full check, unlike <c>GraphProto.sparse_initializer</c>.
    /// </summary>
    SparseInitializer,
    /// <summary>Plain dense float initializers (largest; zeros are stored).</summary>
    Dense,
}

public sealed partial class HyperSparseClassificationTrainer
{
    /// <summary>
    /// Every setting of <see cref="HyperSparseClassificationTrainer"/>. Defaults are the paper's reference code
    /// (ResNet-32 schedule: 60 warm-up epochs, ART until its stop rule, 160 fine-tune epochs) except where noted.
    /// </summary>
    public sealed class Options
    {
        /// <summary>Label column: a key type (e.g. from MapValueToKey). Default "Label".</summary>
        public string LabelColumnName { get; set; } = "Label";

        /// <summary>Feature column: Vector&lt;Single, C, H, W&gt; from ExtractPixels, or a flat Single vector with <see cref="ImageChannels"/>/<see cref="ImageHeight"/>/<see cref="ImageWidth"/>. Default "Features".</summary>
        public string FeatureColumnName { get; set; } = "Features";

        /// <summary>Name of the probabilities column the transformer adds. Default "Score".</summary>
        public string ScoreColumnName { get; set; } = "Score";

        /// <summary>Name of the predicted-label column (same key type as the label). Default "PredictedLabel".</summary>
        public string PredictedLabelColumnName { get; set; } = "PredictedLabel";

        /// <summary>Channels of a flat feature vector; ignored when the column has C×H×W dimensions. Default null.</summary>
        public int? ImageChannels { get; set; }

        /// <summary>Height of a flat feature vector; ignored when the column has C×H×W dimensions. Default null.</summary>
        public int? ImageHeight { get; set; }

        /// <summary>Width of a flat feature vector; ignored when the column has C×H×W dimensions. Default null.</summary>
        public int? ImageWidth { get; set; }

        /// <summary>Network to train. Default <see cref="HyperSparseArchitecture.ResNet20"/> (the paper's ResNet-32 is ≈4× slower on a CPU).</summary>
        public HyperSparseArchitecture Architecture { get; set; } = HyperSparseDefaults.Architecture;

        /// <summary>κ: the fraction of prunable (conv and linear) weights set to zero, in (0, 1). Default 0.9.</summary>
        public double PruningRate { get; set; } = HyperSparseDefaults.PruningRate;

        /// <summary>
        /// Minimum number of weights every pruned layer keeps (layers in <see cref="KeepDenseLayers"/> keep all of theirs), ≥ 0.
        /// At very high κ (e.g. 0.998) the paper's global magnitude rule can prune a whole layer and disconnect the network (the
        /// report lists such layers in
        /// <see cref="HyperSparseTrainingReport.CollapsedLayers"/>); with a minimum, a layer below it keeps its largest-magnitude
        /// weights and the same number of the smallest kept weights of other layers are pruned instead, so the total stays
        /// exactly at κ. Default 0 (the paper's rule).
        /// </summary>
        public int MinWeightsPerLayer { get; set; }

        /// <summary>
        /// Layers to keep dense: exact layer names or glob patterns (<c>*</c> any run of characters, dots included; <c>?</c> one
        /// character; case-sensitive), e.g. <c>"conv1"</c>, <c>"fc*"</c>, <c>"layer3.*"</c>. A layer's name is its weight's name
        /// without <c>.weight</c> — <c>conv1</c>, <c>layer2.0.shortcut.conv</c>, <c>fc</c>, as the ONNX graph names the node — and
        /// the <c>.weight</c> form the training report and <see cref="HyperSparseModelInfo"/> print is accepted too;
        /// <see cref="HyperSparseClassificationTrainer.LayerNames"/> lists them. These layers are outside the regulariser and the
        /// global magnitude threshold, κ applies exactly to the other layers, the ONNX file stores them dense, and the report and
        /// the inspector mark them as kept dense. An entry that matches no layer, or entries that match every layer, throw an
        /// <see cref="ArgumentException"/> listing the architecture's layer names. Default: none.
        /// </summary>
        public string[] KeepDenseLayers { get; set; } = Array.Empty<string>();

        /// <summary>How sparsity is reached. Default <see cref="HyperSparsePruningMethod.AdaptiveRegularizedTraining"/>.</summary>
        public HyperSparsePruningMethod Method { get; set; } = HyperSparsePruningMethod.AdaptiveRegularizedTraining;

        /// <summary>Regulariser used by ART. Default <see cref="HyperSparseRegularizerKind.HyperSparse"/>.</summary>
        public HyperSparseRegularizerKind Regularizer { get; set; } = HyperSparseRegularizerKind.HyperSparse;

        /// <summary>
        /// Training time to plan for, e.g. <c>TimeSpan.FromMinutes(20)</c>; null = none (the schedule options are used as
        /// given). Default null.
        /// </summary>
        /// <remarks>
        /// <para>With a budget, training plans itself from measured epoch times (the first warm-up epoch, the first ART epoch
        /// with its pruning probe) and re-plans after every epoch: the warm-up length, λ_init and η such that λ reaches the
        /// range where ART's stop rule fires with time left for fine-tuning, the ART cap, and the fine-tune length with its
        /// learning-rate steps. Between ART epochs it may raise η (when epochs are slower than planned, or the pruned copy's
        /// train accuracy closes on the dense one too slowly); it never changes anything inside an epoch or a phase's rules.
        /// When the time left only fits the minimum fine-tune, ART ends there (λ has been grown for the stop rule to fire by
        /// then; if it still did not, the report says the cap forced the prune). Every decision, with its time and reason, is
        /// in <see cref="HyperSparseTrainingReport.TimeBudget"/>.</para>
        /// <para>The budget covers training (warm-up, ART and fine-tune, checkpoints included, summed across
        /// <see cref="Resume"/>d sessions); reading the data and exporting the model come on top.</para>
        /// <para><b>Explicit settings win.</b> <see cref="LambdaInit"/>, <see cref="LambdaGrowth"/>, <see cref="WarmupEpochs"/>,
        /// <see cref="MaxArtEpochs"/>, <see cref="FineTuneEpochs"/> and <see cref="LearningRateSteps"/> are null by default, which
        /// means "the planner chooses" (without a budget: the <see cref="HyperSparseDefaults"/> value); a value that is not null
        /// is kept exactly, even when it equals the default. When the kept values make the plan predict that ART will not stop within the budget,
        /// a warning is logged and added to <see cref="HyperSparseTrainingReport.Notes"/>. Batch size, learning rate and the
        /// other options are never planned.</para>
        /// </remarks>
        public TimeSpan? TimeBudget { get; set; }

        /// <summary>
        /// λ in the first ART epoch; null = <see cref="HyperSparseDefaults.LambdaInit"/> (5e-6, the reference code), or the
        /// planner's choice with a <see cref="TimeBudget"/>. Default null.
        /// </summary>
        public double? LambdaInit { get; set; }

        /// <summary>
        /// η: λ is multiplied by this after each ART epoch; null = <see cref="HyperSparseDefaults.LambdaGrowth"/> (1.05), or the
        /// planner's choice with a <see cref="TimeBudget"/>. Short schedules need more (e.g. 1.3) for ART's stop rule to fire.
        /// Default null.
        /// </summary>
        public double? LambdaGrowth { get; set; }

        /// <summary>
        /// Dense warm-up epochs before ART (or before the one-shot prune), ≥ 1; null = <see cref="HyperSparseDefaults.WarmupEpochs"/>
        /// (60), or the planner's choice with a <see cref="TimeBudget"/>. Default null.
        /// </summary>
        public int? WarmupEpochs { get; set; }

        /// <summary>
        /// Cap on ART epochs (the reference has none), ≥ 1; when reached, the best pruned copy is taken and the report says so.
        /// Null = <see cref="HyperSparseDefaults.MaxArtEpochs"/> (300); with a <see cref="TimeBudget"/>, null lets the planner end
        /// ART when the time left only fits the minimum fine-tune. Default null.
        /// </summary>
        public int? MaxArtEpochs { get; set; }

        /// <summary>m: ART's stop rule averages the pruned accuracy over 2m+1 epochs. Default <see cref="HyperSparseDefaults.StopWindowHalfSize"/> (1).</summary>
        public int StopWindowHalfSize { get; set; } = HyperSparseDefaults.StopWindowHalfSize;

        /// <summary>
        /// Masked fine-tune epochs after pruning, ≥ 1; null = <see cref="HyperSparseDefaults.FineTuneEpochs"/> (160), or the
        /// planner's choice with a <see cref="TimeBudget"/>. Default null.
        /// </summary>
        public int? FineTuneEpochs { get; set; }

        /// <summary>
        /// Fine-tune epochs at which the learning rate is multiplied by <see cref="LearningRateDecay"/>; null =
        /// <see cref="HyperSparseDefaults.LearningRateSteps"/> ({80, 120}), or with a <see cref="TimeBudget"/> the planner's (1/2
        /// and 3/4 of the fine-tune). Default null.
        /// </summary>
        public int[]? LearningRateSteps { get; set; }

        /// <summary>The schedule knobs set explicitly (not null), which a <see cref="TimeBudget"/> keeps exactly.</summary>
        internal ScheduleKnobs FixedKnobs =>
            (LambdaInit is null ? ScheduleKnobs.None : ScheduleKnobs.LambdaInit) |
            (LambdaGrowth is null ? ScheduleKnobs.None : ScheduleKnobs.LambdaGrowth) |
            (WarmupEpochs is null ? ScheduleKnobs.None : ScheduleKnobs.WarmupEpochs) |
            (MaxArtEpochs is null ? ScheduleKnobs.None : ScheduleKnobs.MaxArtEpochs) |
            (FineTuneEpochs is null ? ScheduleKnobs.None : ScheduleKnobs.FineTuneEpochs) |
            (LearningRateSteps is null ? ScheduleKnobs.None : ScheduleKnobs.LearningRateSteps);

        /// <summary>Mini-batch size, ≥ 1. Default 64.</summary>
        public int BatchSize { get; set; } = HyperSparseDefaults.BatchSize;

        /// <summary>
        /// SGD learning rate for warm-up, ART and the start of fine-tuning; null = <see cref="HyperSparseDefaults.LearningRate"/>
        /// (0.1), or <see cref="HyperSparseDefaults.TransferLearningRate"/> (1e-3) with <see cref="Pretrained"/>. Default null.
        /// </summary>
        public double? LearningRate { get; set; }

        /// <summary>
        /// Start from pretrained weights (<see cref="HyperSparsePretrained.ImageNetResNet18"/>, <see cref="HyperSparsePretrained.FromFile"/>)
        /// instead of a random initialisation; null = from scratch. Default null.
        /// </summary>
        /// <remarks>
        /// The architecture comes from the weights (<see cref="Architecture"/> must be left at its default or name the same
        /// network). The warm-up becomes the head stage: <see cref="WarmupEpochs"/> epochs (null = <see cref="HyperSparseDefaults.TransferHeadEpochs"/>)
        /// train only the new classifier. Schedule options left null take the <c>Transfer…</c> values of
        /// <see cref="HyperSparseDefaults"/>. What was loaded, from where,
        /// and which layers are new is in <see cref="HyperSparseTrainingReport.Pretrained"/>.
        /// </remarks>
        public HyperSparsePretrained? Pretrained { get; set; }

        /// <summary>
        /// Keep batch norm's running statistics fixed while training (its scale and shift still train). Null (the default) =
        /// false: they are re-estimated, except in the head stage of a <see cref="Pretrained"/> start, which always keeps the
        /// source's. Measured at κ 0.98 from ML.NET's ResNet-18: with the statistics frozen through ART the regulariser shrank
        /// the weights with nothing to renormalise them and the dense model collapsed; re-estimated, ART's stop rule fired on a
        /// healthy model. (For dense fine-tuning alone, frozen statistics measured 2–2.5 points better on Fashion-MNIST.)
        /// </summary>
        public bool? FreezeBatchNormStatistics { get; set; }

        /// <summary>Factor applied at each of <see cref="LearningRateSteps"/>. Default 0.1.</summary>
        public double LearningRateDecay { get; set; } = HyperSparseDefaults.LearningRateDecay;

        /// <summary>SGD momentum. Default 0.9.</summary>
        public double Momentum { get; set; } = HyperSparseDefaults.Momentum;

        /// <summary>SGD weight decay (coupled L2 on all parameters). Default 1e-4.</summary>
        public double WeightDecay { get; set; } = HyperSparseDefaults.WeightDecay;

        /// <summary>
        /// Random-crop padding in pixels (0 = off), at most ⌊min(height, width) / 2⌋ of the images (checked by <c>Fit</c>, so every
        /// random crop keeps at least half of the image's height and width). Default 4.
        /// </summary>
        public int CropPadding { get; set; } = HyperSparseDefaults.CropPadding;

        /// <summary>Random horizontal flips. Default true.</summary>
        public bool HorizontalFlip { get; set; } = HyperSparseDefaults.HorizontalFlip;

        /// <summary>Multiplier applied to raw feature values before normalisation; null = 1/255 when values exceed 1.5 (ExtractPixels' 0..255), else 1. Default null.</summary>
        public float? PixelScale { get; set; }

        /// <summary>Seed for initialisation, shuffling and augmentation. Same seed on CPU gives the same model. Default 42.</summary>
        public int Seed { get; set; } = HyperSparseDefaults.Seed;

        /// <summary>Optional validation data (same columns); its accuracy is measured after every epoch and reported. Default null.</summary>
        public IDataView? ValidationSet { get; set; }

        /// <summary>Folder for per-epoch checkpoints; null = none. Default null.</summary>
        public string? CheckpointFolder { get; set; }

        /// <summary>Continue from the newest checkpoint in <see cref="CheckpointFolder"/> when there is one. Default false.</summary>
        public bool Resume { get; set; }

        /// <summary>Training device. Only "cpu" is available in this build. Default "cpu".</summary>
        public string Device { get; set; } = "cpu";

        /// <summary>libtorch threads, 1..<see cref="Environment.ProcessorCount"/>; null = all cores. Default null.</summary>
        public int? NumberOfThreads { get; set; }

        /// <summary>
        /// Train in bfloat16 mixed precision, as PyTorch's <c>torch.autocast("cpu", torch.bfloat16)</c> does for a CNN:
        /// convolutions and linear layers compute in bfloat16, while the weights the optimiser updates, batch norm, the loss,
        /// the HyperSparse term, pruning, ART's probe and the exported model stay float32. A speed option for CPUs with native
        /// bfloat16 (AVX512-BF16 or AMX): on an AMD EPYC with AVX512-BF16 a ResNet-20 step took 0.70× and a ResNet-20 fine-tune
        /// epoch 0.54–0.68× the float32 time (docs/bench-step.md); a CPU without native bfloat16 runs it slower. Its effect on
        /// accuracy, over four seeds of a short schedule, was within the spread between seeds (−2.2 to +4.7 points), not proven
        /// neutral, so it is off by default, and the default gives exactly the float32 results. Each layer is checked once against float32 when
        /// training starts; a layer whose bfloat16 kernel disagrees (libtorch 2.10 on that CPU miscomputes convolutions whose
        /// channel counts are not multiples of 16) trains in float32, and <see cref="HyperSparseTrainingReport.Notes"/> says
        /// which. Default false.
        /// </summary>
        public bool UseBFloat16 { get; set; } = HyperSparseDefaults.UseBFloat16;

        /// <summary>Apply the glibc malloc setting that makes CPU training faster on Linux (measured by build/bench-step.sh with MALLOC_OFF=1: 2.05× for LeNet-5, 1.17× for ResNet-20 at batch 128). Default true.</summary>
        public bool TuneAllocator { get; set; } = true;

        /// <summary>
        /// Stops <c>Fit</c> within one mini-batch when cancelled (an <see cref="OperationCanceledException"/> is thrown; with
        /// <see cref="CheckpointFolder"/> set, the last finished epoch's checkpoint is kept for <see cref="Resume"/>).
        /// ML.NET's host cancellation (<c>MLContext.CancelExecution()</c>, internal to ML.NET and used by its own tools) is
        /// honoured as well, noticed within 0.1 s. Default: none.
        /// </summary>
        public CancellationToken CancellationToken { get; set; }

        /// <summary>
        /// Receives progress as data — when training starts (or resumes), after every epoch (phase, epoch, λ, accuracies,
        /// sparsity, times, the schedule in force) and when ART ends — on the training thread. Null = none. Default null.
        /// The same is logged on <c>MLContext.Log</c> for people; read this rather than the log's wording, which may change.
        /// </summary>
        public IProgress<HyperSparseProgress>? Progress { get; set; }

        /// <summary>How pruned weights are stored in the ONNX model. Default <see cref="HyperSparseWeightEncoding.Compact"/>.</summary>
        public HyperSparseWeightEncoding WeightEncoding { get; set; } = HyperSparseWeightEncoding.Compact;

        /// <summary>
        /// Store every convolution and linear weight in the ONNX file as per-output-channel symmetric int8 (each channel's scale
        /// rounded up to one of 256 model-wide values, 16 per octave, and stored as a one-byte index; zeros stay zero and every kept weight stays non-zero, so the sparsity is unchanged), rebuilt by standard operators
        /// that ONNX Runtime folds at load. Cuts the kept values' bytes by 4; lossy, so <c>Fit</c> scores the float and the
        /// int8 model on the validation set (or the first 10,000 training images) and states the accuracy change in
        /// <see cref="HyperSparseTrainingReport.Quantization"/>. Default false.
        /// </summary>
        public bool QuantizeWeights { get; set; }

        /// <summary>
        /// What the ONNX model stores and runs as 8-bit integers. <see cref="HyperSparseQuantization.WeightsOnly"/> is
        /// <see cref="QuantizeWeights"/> (smaller file, float kernels). <see cref="HyperSparseQuantization.Full"/> also runs
        /// the network in int8: activation ranges are calibrated on <see cref="CalibrationImages"/> training images and every
        /// convolution and residual addition gets uint8 QuantizeLinear → DequantizeLinear pairs that ONNX Runtime fuses into
        /// int8 kernels (QLinearConv, QLinearAdd; the classifier stays float) — still standard ONNX. Lossy: <c>Fit</c> states
        /// the accuracy change and what was calibrated in <see cref="HyperSparseTrainingReport.Quantization"/>. Default
        /// <see cref="HyperSparseQuantization.None"/> (then <see cref="QuantizeWeights"/> decides).
        /// Speed, measured with ONNX Runtime on one CPU thread at κ = 0.98 (docs/benchmarks.md, "Scoring speed"): the ImageNet
        /// ResNet-18 at 64×64 scores 4.4–4.8× faster than in float, ResNet-32 2.9–3.1×, the 16-wide ResNet-20 1.7–2.0×; LeNet-5
        /// scores 2–3× slower (its convolutions are too small to pay for the quantize steps), so keep small networks in float.
        /// </summary>
        public HyperSparseQuantization Quantization { get; set; }

        /// <summary>
        /// With <see cref="HyperSparseQuantization.Full"/>: training images (spread evenly over the training set) whose
        /// activations set the int8 ranges, 1..4096. Default <see cref="HyperSparseDefaults.CalibrationImages"/> (256).
        /// </summary>
        public int CalibrationImages { get; set; } = HyperSparseDefaults.CalibrationImages;

        /// <summary>The quantization in force: <see cref="Quantization"/>, or weights-only when only <see cref="QuantizeWeights"/> is set.</summary>
        internal HyperSparseQuantization EffectiveQuantization =>
            Quantization != HyperSparseQuantization.None ? Quantization : QuantizeWeights ? HyperSparseQuantization.WeightsOnly : HyperSparseQuantization.None;

        /// <summary>
        /// Remove dead channels from the ONNX model: output channels whose filter is all zero (so they hold a constant, e.g.
        /// ReLU of a folded batch-norm bias) and channels nothing reads, folding their constant contribution exactly into the
        /// next layer's bias (or, through zero padding, into one kept channel), together with the matching input slices of the
        /// next layer; residual additions and layers that collapse entirely are handled. The scores are unchanged (up to float
        /// rounding, ~1e-6); the file is smaller and ONNX Runtime computes less. <see cref="HyperSparseTrainingReport.Layers"/>
        /// and <see cref="HyperSparseModelInfo"/> show what each layer lost. Default true.
        /// </summary>
        public bool ShrinkDeadChannels { get; set; } = true;

        internal TrainingOptions ToEngine(Engine.Pretrained.PretrainedWeights? weights = null)
        {
            // A pretrained start has its own schedule defaults; every value set here still wins.
            bool transfer = Pretrained is not null;
            return new()
            {
                Architecture = EngineArchitecture(weights),
                Method = Method == HyperSparsePruningMethod.OneShotMagnitude ? PruningMethod.OneShotMagnitude : PruningMethod.Art,
                Regularizer = Regularizer switch
                {
                    HyperSparseRegularizerKind.L1 => RegularizerKind.L1,
                    HyperSparseRegularizerKind.L2 => RegularizerKind.L2,
                    _ => RegularizerKind.HyperSparse,
                },
                PruningRate = PruningRate,
                MinWeightsPerLayer = MinWeightsPerLayer,
                LambdaInit = LambdaInit ?? (transfer ? TrainingDefaults.Transfer.LambdaInit : TrainingDefaults.LambdaInit),
                LambdaGrowth = LambdaGrowth ?? (transfer ? TrainingDefaults.Transfer.LambdaGrowth : TrainingDefaults.LambdaGrowth),
                WarmupEpochs = WarmupEpochs ?? (transfer ? TrainingDefaults.Transfer.HeadEpochs : TrainingDefaults.WarmupEpochs),
                MaxArtEpochs = MaxArtEpochs ?? (transfer ? TrainingDefaults.Transfer.MaxArtEpochs : TrainingDefaults.MaxArtEpochs),
                StopWindowHalfSize = StopWindowHalfSize,
                FineTuneEpochs = FineTuneEpochs ?? (transfer ? TrainingDefaults.Transfer.FineTuneEpochs : TrainingDefaults.FineTuneEpochs),
                LearningRateSteps = (LearningRateSteps ?? (transfer ? TrainingDefaults.Transfer.LearningRateSteps : TrainingDefaults.LearningRateSteps)).ToArray(),
                BatchSize = BatchSize,
                LearningRate = LearningRate ?? (transfer ? TrainingDefaults.Transfer.LearningRate : TrainingDefaults.LearningRate),
                LearningRateDecay = LearningRateDecay,
                Momentum = Momentum,
                WeightDecay = WeightDecay,
                CropPadding = CropPadding,
                HorizontalFlip = HorizontalFlip,
                Seed = Seed,
                Threads = NumberOfThreads,
                TuneAllocator = TuneAllocator,
                CheckpointDirectory = CheckpointFolder,
                Resume = Resume,
                KeepDenseLayers = KeepDenseLayers is { Length: > 0 } keep ? keep.ToArray() : null,
                TimeBudget = TimeBudget,
                // Only meaningful with a budget; left at None otherwise so the options' fingerprint (checkpoints) is unchanged.
                // The head stage of a pretrained start is never planned: it is short and fixed.
                FixedKnobs = TimeBudget is null ? ScheduleKnobs.None : FixedKnobs | (transfer ? ScheduleKnobs.WarmupEpochs : ScheduleKnobs.None),
                Pretrained = Pretrained is { } p ? new PretrainedStart(p.Describe(), p.KeepClassifier) { Weights = weights } : null,
                FreezeBatchNormStatistics = FreezeBatchNormStatistics ?? (transfer && TrainingDefaults.Transfer.FreezeBatchNormStatistics),
                Precision = UseBFloat16 ? TrainingPrecision.BFloat16 : TrainingPrecision.Float32,
            };
        }

        /// <summary>
        /// The engine network: <see cref="Architecture"/>, or with <see cref="Pretrained"/> the weights' own (ML.NET's ResNet-18
        /// before they are read; for a file not yet read, the ImageNet ResNet named, else ResNet-18).
        /// </summary>
        internal Engine.Models.Architecture EngineArchitecture(Engine.Pretrained.PretrainedWeights? weights) => Pretrained switch
        {
            null => ToEngine(Architecture),
            _ when weights?.Architecture is { } fromFile => fromFile,
            { IsMLNetResNet18: true } => Engine.Models.Architecture.ResNet18MLNet,
            _ when IsImageNetResNet(Architecture) => ToEngine(Architecture),
            _ => Engine.Models.Architecture.ResNet18,
        };

        internal static bool IsImageNetResNet(HyperSparseArchitecture architecture) =>
            architecture is HyperSparseArchitecture.ResNet18 or HyperSparseArchitecture.ResNet34 or HyperSparseArchitecture.ResNet18MLNet;

        /// <summary>
        /// A copy that shares nothing mutable with this one (arrays are copied; the validation set, a read-only view, and the
        /// progress receiver are shared): what a trainer keeps, so changing the caller's object later changes no trainer.
        /// </summary>
        internal Options Clone()
        {
            var copy = (Options)MemberwiseClone();
            copy.KeepDenseLayers = KeepDenseLayers?.ToArray()!;
            copy.LearningRateSteps = LearningRateSteps?.ToArray();
            return copy;
        }

        internal static Engine.Models.Architecture ToEngine(HyperSparseArchitecture architecture) => architecture switch
        {
            HyperSparseArchitecture.LeNet5 => Engine.Models.Architecture.LeNet5,
            HyperSparseArchitecture.Mlp => Engine.Models.Architecture.Mlp,
            HyperSparseArchitecture.ResNet20 => Engine.Models.Architecture.ResNet20,
            HyperSparseArchitecture.ResNet32 => Engine.Models.Architecture.ResNet32,
            HyperSparseArchitecture.Vgg19 => Engine.Models.Architecture.Vgg19,
            HyperSparseArchitecture.ResNet18 => Engine.Models.Architecture.ResNet18,
            HyperSparseArchitecture.ResNet34 => Engine.Models.Architecture.ResNet34,
            HyperSparseArchitecture.ResNet18MLNet => Engine.Models.Architecture.ResNet18MLNet,
            _ => throw Errors.Option(nameof(Architecture), "a HyperSparseArchitecture value", architecture),
        };

        internal OnnxWeightEncoding ToOnnxEncoding() => WeightEncoding switch
        {
            HyperSparseWeightEncoding.Dense => OnnxWeightEncoding.Dense,
            HyperSparseWeightEncoding.SparseInitializer => OnnxWeightEncoding.SparseInitializer,
            _ => OnnxWeightEncoding.Compact,
        };

        /// <summary>
        /// Checks every option (and the validation set's schema); throws <see cref="ArgumentOutOfRangeException"/> naming the
        /// option, the expected and the found value. Runs when the trainer is created and again when Fit starts.
        /// </summary>
        internal void Validate()
        {
            if (string.IsNullOrWhiteSpace(LabelColumnName)) throw Errors.Option(nameof(LabelColumnName), "a column name", LabelColumnName);
            if (string.IsNullOrWhiteSpace(FeatureColumnName)) throw Errors.Option(nameof(FeatureColumnName), "a column name", FeatureColumnName);
            if (string.IsNullOrWhiteSpace(ScoreColumnName)) throw Errors.Option(nameof(ScoreColumnName), "a column name", ScoreColumnName);
            if (string.IsNullOrWhiteSpace(PredictedLabelColumnName)) throw Errors.Option(nameof(PredictedLabelColumnName), "a column name", PredictedLabelColumnName);
            if (PredictedLabelColumnName == ScoreColumnName || ScoreColumnName == "PredictedLabel" || PredictedLabelColumnName == "Score")
                throw Errors.Option(nameof(PredictedLabelColumnName),
                    "a name different from ScoreColumnName, with neither taking the other's default name (Score / PredictedLabel)",
                    $"ScoreColumnName '{ScoreColumnName}' and PredictedLabelColumnName '{PredictedLabelColumnName}'");
            if (!string.Equals(Device, "cpu", StringComparison.OrdinalIgnoreCase))
                throw Errors.Option(nameof(Device), "\"cpu\" (no GPU build of TorchSharp is available)", Device);
            foreach (var (name, value) in new[] { (nameof(ImageChannels), ImageChannels), (nameof(ImageHeight), ImageHeight), (nameof(ImageWidth), ImageWidth) })
                if (value is < 1) throw Errors.Option(name, "a positive number or null", value);
            if (PixelScale is { } s && (!(s > 0) || !float.IsFinite(s))) throw Errors.Option(nameof(PixelScale), "a positive finite number or null", s);
            if (!Enum.IsDefined(Quantization)) throw Errors.Option(nameof(Quantization), "a HyperSparseQuantization value", Quantization);
            if (CalibrationImages is < 1 or > 4096) throw Errors.Option(nameof(CalibrationImages), "1..4096 images", CalibrationImages);
            if (LearningRate is { } rate && !(rate > 0 && double.IsFinite(rate))) throw Errors.Option(nameof(LearningRate), "a positive finite number or null", rate);
            if (Pretrained is not null && Architecture != HyperSparseDefaults.Architecture && !IsImageNetResNet(Architecture))
                throw Errors.Option(nameof(Architecture),
                    $"left at its default or an ImageNet ResNet (ResNet18, ResNet34, ResNet18MLNet) with Pretrained ({Pretrained}), whose weights decide the network",
                    Architecture);
            if (Pretrained is { IsMLNetResNet18: true } && IsImageNetResNet(Architecture) && Architecture != HyperSparseArchitecture.ResNet18MLNet)
                throw Errors.Option(nameof(Architecture),
                    $"ResNet18MLNet (or the default) with Pretrained = ML.NET's ResNet-18, whose stages have [2, 2, 2, 3] blocks", Architecture);
            if (Resume && CheckpointFolder is null) throw Errors.Option(nameof(Resume), "true only together with CheckpointFolder", Resume);
            // More libtorch threads than cores only adds contention: 2,000 threads on 2 cores trained ~50× slower.
            if (NumberOfThreads is { } threads && (threads < 1 || threads > Environment.ProcessorCount))
                throw Errors.Option(nameof(NumberOfThreads),
                    $"in 1..{Environment.ProcessorCount} (this machine's processor count), or null for all of them", threads);
            try
            {
                ToEngine().Validate();
            }
            catch (ArgumentOutOfRangeException ex)
            {
                // The engine names its own options; map the two whose public names differ.
                var name = ex.ParamName switch
                {
                    nameof(TrainingOptions.Threads) => nameof(NumberOfThreads),
                    nameof(TrainingOptions.CheckpointDirectory) => nameof(CheckpointFolder),
                    _ => ex.ParamName,
                };
                throw new ArgumentOutOfRangeException(name, ex.ActualValue, ex.Message.Replace($"'{ex.ParamName}'", $"'{name}'").Split(" (Parameter")[0]);
            }
            // The validation set's own schema can be checked now; its match with the training data is checked by Fit.
            if (ValidationSet is not null) ColumnContract.ForValidationSet(ValidationSet.Schema, this);
        }
    }
}

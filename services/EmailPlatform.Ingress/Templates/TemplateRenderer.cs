using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using EmailPlatform.Ingress.Sending;
using Fluid;
using Fluid.Values;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Ingress.Templates;

/// <summary>Which parts of a version to render (a send may override some of them).</summary>
internal readonly record struct TemplateParts(bool Subject, bool Html, bool Text)
{
    public static readonly TemplateParts All = new(true, true, true);
}

/// <summary>Rendered parts; a part not asked for, or absent from the template, is null. <paramref name="Bytes"/>: the parts' size in UTF-8.</summary>
internal sealed record RenderedTemplate(string? Subject, string? Html, string? Text, long Bytes);

/// <summary>A tighter limit than a render's own (what is left of a request's), and what to say when it is passed.</summary>
internal sealed record RenderBudget(long Bytes, string Refusal);

/// <summary>A render, or the per-variable (or per-part) reasons it was refused.</summary>
internal sealed record RenderOutcome(RenderedTemplate? Rendered, Dictionary<string, string[]> Errors);

/// <summary>
/// Renders template versions with Fluid (Liquid). Templates see only the declared variables, as Liquid strings,
/// numbers and booleans: no .NET objects, no files (<c>include</c>/<c>render</c> find nothing), no network.
/// HTML output is HTML-encoded; the subject and text are not, and a subject that renders to a control character
/// is refused. Loops are capped in steps, nesting and range length (<see cref="BoundedRanges"/>), and the output in size
/// (<see cref="TemplatesOptions.MaxRenderedBytes"/>, counted as it is written: <see cref="BoundedWriter"/>). Parsed versions
/// are cached per (template, version), a bounded number of them.
/// </summary>
internal sealed class TemplateRenderer(IOptions<TemplatesOptions> options) : IDisposable
{
    public const int CachedVersions = 1024;

    private static readonly FluidParser Parser = CreateParser();

    private static readonly TemplateOptions Options = new()
    {
        FileProvider = new NullFileProvider(),
        CultureInfo = CultureInfo.InvariantCulture,
        TimeZone = TimeZoneInfo.Utc,
        MaxSteps = 100_000,
        MaxRecursion = 20,
    };

    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = CachedVersions });

    /// <summary>Liquid without <c>include</c> and <c>render</c>: a template is self-contained and reads no files.</summary>
    private static FluidParser CreateParser()
    {
        var parser = new FluidParser();
        parser.RegisteredTags.Remove("include");
        parser.RegisteredTags.Remove("render");
        return parser;
    }

    /// <remarks>Not named TryParse: Minimal APIs would take this class for a route-parameter type.</remarks>
    public static bool TryCompile(string source, out IFluidTemplate? template, out string error)
    {
        if (Parser.TryParse(source, out var parsed, out var message))
        {
            template = BoundedRanges.Apply(parsed);
            error = "";
            return true;
        }

        template = null;
        error = message ?? "it does not parse.";
        return false;
    }

    /// <summary>The most one render writes (subject, HTML and text together, in UTF-8 bytes).</summary>
    public long MaxRenderedBytes => options.Value.MaxRenderedBytes;

    /// <param name="field">The request member the variables came from, to name errors by (<c>variables</c>, <c>template.variables</c>).</param>
    /// <param name="budget">A limit below <see cref="MaxRenderedBytes"/>, such as what is left of a batch's, when there is one.</param>
    public RenderOutcome Render(
        TemplateVersionRecord version, IReadOnlyDictionary<string, JsonElement>? variables, TemplateParts parts, string field, RenderBudget? budget = null)
    {
        var compiled = Compile(version);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var context = new TemplateContext(Options);
        foreach (var declared in compiled.Variables)
        {
            var given = variables is not null && variables.TryGetValue(declared.Name, out var v) && v.ValueKind != JsonValueKind.Null ? v : (JsonElement?)null;
            var value = given ?? (declared.Default is { ValueKind: not JsonValueKind.Null } d ? d : null);
            if (value is null)
            {
                if (declared.Required)
                {
                    errors[$"{field}.{declared.Name}"] = [$"The variable '{declared.Name}' is required."];
                }

                continue;
            }

            if (!TemplateRules.Matches(value.Value, declared.Type))
            {
                errors[$"{field}.{declared.Name}"] = [$"The variable '{declared.Name}' must be a {declared.Type}."];
                continue;
            }

            context.SetValue(declared.Name, ToFluid(value.Value));
        }

        if (errors.Count > 0)
        {
            return new RenderOutcome(null, errors);
        }

        var limit = MaxRenderedBytes;
        var writer = new BoundedWriter(budget is { } tighter && tighter.Bytes < limit ? tighter.Bytes : limit);
        try
        {
            var subject = parts.Subject ? RenderPart(compiled.Subject, context, NullEncoder.Default, writer) : null;
            if (subject is not null && SendEmailValidator.ContainsControl(subject))
            {
                errors["subject"] = [$"The subject renders with control characters such as CR or LF; check the variables it uses ({field})."];
                return new RenderOutcome(null, errors);
            }

            var html = parts.Html && compiled.Html is { } htmlPart ? RenderPart(htmlPart, context, HtmlEncoder.Default, writer) : null;
            var text = parts.Text && compiled.Text is { } textPart ? RenderPart(textPart, context, NullEncoder.Default, writer) : null;
            return new RenderOutcome(new RenderedTemplate(subject, html, text, writer.Bytes), errors);
        }
        catch (RenderLimitException)
        {
            errors["template"] = [budget is not null && budget.Bytes < limit ? budget.Refusal
                : $"The template renders more than {limit} bytes (subject, HTML and text together, in UTF-8) with these variables; check {field}."];
            return new RenderOutcome(null, errors);
        }
        catch (InvalidOperationException)
        {
            // Fluid's limits (MaxSteps, MaxRecursion) and BoundedRanges stop a runaway template.
            errors["template"] = ["The template did not finish rendering within its limits: a loop runs too long or blocks nest too deeply."];
            return new RenderOutcome(null, errors);
        }
        catch (ArithmeticException)
        {
            // The sender's variables reach Fluid's arithmetic filters: divided_by or modulo 0, times or plus past decimal's range.
            errors["template"] = [$"The template's arithmetic fails with these variables (a division by zero or a number out of range); check {field}."];
            return new RenderOutcome(null, errors);
        }
        catch (Exception ex) when (ex is not (OutOfMemoryException or OperationCanceledException))
        {
            // Other filters fail on the sender's values too, each in its own way: base64_decode of something that is not
            // base64 (FormatException), round to more digits than a decimal has (ArgumentOutOfRangeException), and so on.
            // A render touches nothing but its own context, so whatever it throws is about these variables and this template.
            errors["template"] = [$"A filter in the template fails with these variables (such as base64_decode of a value that is not base64, "
                + $"or round to more than 28 digits); check {field}."];
            return new RenderOutcome(null, errors);
        }
    }

    /// <summary>Renders one part into <paramref name="writer"/> (which throws past its limit) and returns it.</summary>
    private static string RenderPart(IFluidTemplate template, TemplateContext context, TextEncoder encoder, BoundedWriter writer)
    {
        var rendering = template.RenderAsync(writer, context, encoder);
        if (!rendering.IsCompletedSuccessfully)
        {
            rendering.AsTask().GetAwaiter().GetResult();
        }

        return writer.Take();
    }

    private CompiledVersion Compile(TemplateVersionRecord version) =>
        _cache.GetOrCreate((version.TemplateId, version.Version), entry =>
        {
            entry.Size = 1;
            entry.SlidingExpiration = TimeSpan.FromHours(1);
            return new CompiledVersion(
                ParseStored(version.Subject)!,
                ParseStored(version.Html),
                ParseStored(version.Text),
                version.DeclaredVariables());
        })!;

    /// <summary>Stored sources were checked when written; a version is immutable, so its parse can be cached for good.</summary>
    private static IFluidTemplate? ParseStored(string? source) =>
        source is null ? null
        : TryCompile(source, out var template, out var error) ? template
        : throw new InvalidOperationException($"A stored template does not parse: {error}");

    private static FluidValue ToFluid(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => new StringValue(value.GetString()!),
        JsonValueKind.Number => NumberValue.Create(value.GetDecimal()),
        JsonValueKind.True => BooleanValue.True,
        JsonValueKind.False => BooleanValue.False,
        _ => NilValue.Instance,
    };

    public void Dispose() => _cache.Dispose();

    private sealed record CompiledVersion(IFluidTemplate Subject, IFluidTemplate? Html, IFluidTemplate? Text, IReadOnlyList<TemplateVariable> Variables);
}

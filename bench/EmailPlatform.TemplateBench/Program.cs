// Renders/s of a typical transactional template (subject + ~2 KB of HTML, a loop over 5 line items, conditionals,
// 6 variables) with the ingress's TemplateRenderer and its cached compiled version, on ONE thread: a warm-up, then
// RUNS runs of a fixed duration each; prints renders/s per run and the median.
//
//   dotnet run -c Release --project bench/EmailPlatform.TemplateBench -- [--runs 5] [--duration 5] [--warmup 3] [--text]
//
// --text also derives the text part from the rendered HTML (HtmlText.From, AngleSharp), as a send without a text part does.
using System.Diagnostics;
using System.Globalization;
using EmailPlatform.Ingress.Templates;
using Microsoft.Extensions.Options;

var runs = Option("--runs", 5);
var duration = TimeSpan.FromSeconds(Option("--duration", 5));
var warmup = TimeSpan.FromSeconds(Option("--warmup", 3));
var withText = args.Contains("--text");

using var renderer = new TemplateRenderer(Options.Create(new TemplatesOptions()));
var version = BenchTemplate.Version();
var variables = BenchTemplate.Variables();

var first = renderer.Render(version, variables, TemplateParts.All, "variables");
if (first.Rendered is not { Html: { } html, Subject: { } subject })
{
    Console.Error.WriteLine("The template does not render: " + string.Join(" ", first.Errors.SelectMany(e => e.Value)));
    return 1;
}

if (!html.Contains("Ergonomic keyboard", StringComparison.Ordinal) || !html.Contains("&lt;b&gt;", StringComparison.Ordinal))
{
    Console.Error.WriteLine("The rendered HTML is not what the bench expects:\n" + html);
    return 1;
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"template: subject \"{subject}\", HTML source {version.Html!.Length} chars, rendered {html.Length} chars, 5 line items, 6 variables"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"one thread, {runs} runs of {duration.TotalSeconds:0.#} s after a {warmup.TotalSeconds:0.#} s warm-up{(withText ? ", with the derived text part" : "")}; .NET {Environment.Version}, {Environment.ProcessorCount} CPUs"));

Measure(warmup);
var rates = new List<double>();
for (var run = 1; run <= runs; run++)
{
    var rate = Measure(duration);
    rates.Add(rate);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"run {run}: {rate,10:N0} renders/s"));
}

rates.Sort();
var median = rates.Count % 2 == 1 ? rates[rates.Count / 2] : (rates[(rates.Count / 2) - 1] + rates[rates.Count / 2]) / 2;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"median: {median,9:N0} renders/s (target >= 20,000/s on one core: {(median >= 20_000 ? "met" : "MISSED")})"));
return 0;

double Measure(TimeSpan length)
{
    var watch = Stopwatch.StartNew();
    long renders = 0;
    var sink = 0;
    while (watch.Elapsed < length)
    {
        for (var i = 0; i < 64; i++)
        {
            var outcome = renderer.Render(version, variables, TemplateParts.All, "variables");
            var rendered = outcome.Rendered!;
            sink += rendered.Html!.Length;
            if (withText)
            {
                sink += HtmlText.From(rendered.Html)?.Length ?? 0;
            }
        }

        renders += 64;
    }

    GC.KeepAlive(sink);
    return renders / watch.Elapsed.TotalSeconds;
}

int Option(string name, int fallback)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
}

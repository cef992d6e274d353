using System.Text.RegularExpressions;
using EmailPlatform.Deployment.Tests.Chart;
using EmailPlatform.Deployment.Tests.Support;

namespace EmailPlatform.Deployment.Tests.Images;

/// <summary>
/// No registry publishes the images: the README's Helm section builds them from their Dockerfiles, pushes them, and
/// installs the chart naming them. Followed as written, every image the chart runs (the Deployments' and the
/// migrations Job's) is one the commands built from the service's own Dockerfile and pushed.
/// </summary>
public sealed partial class ReadmeImageTests
{
    [Fact]
    public void TheHelmInstallRunsTheImagesTheReadmeBuildsAndPushes()
    {
        var commands = ShellCommands(HelmSection()).ToList();
        var variables = commands.Select(c => Assignment().Match(c)).Where(m => m.Success)
            .ToDictionary(m => m.Groups["name"].Value, m => m.Groups["value"].Value);
        string Expand(string text) => Variable().Replace(text.Replace("\"", "", StringComparison.Ordinal),
            m => variables.TryGetValue(m.Groups["name"].Value, out var value) ? value : m.Value);

        var built = new Dictionary<string, string>();
        foreach (var build in commands.Where(c => c.StartsWith("docker build ", StringComparison.Ordinal)).Select(Expand))
        {
            var words = build.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var dockerfile = words[Array.IndexOf(words, "-f") + 1];
            Assert.True(Repo.Exists(dockerfile), $"{build}: there is no {dockerfile}");
            Assert.Equal(".", words[^1]); // The Dockerfiles copy from the repository root.
            built[words[Array.IndexOf(words, "-t") + 1]] = dockerfile;
        }

        var pushed = commands.Where(c => c.StartsWith("docker push ", StringComparison.Ordinal))
            .Select(c => Expand(c)["docker push ".Length..].Trim()).ToHashSet();
        var install = Assert.Single(commands, c => c.StartsWith("helm install ", StringComparison.Ordinal));
        var imageSettings = Set().Matches(install).Select(m => Expand(m.Groups["value"].Value))
            .Where(s => s.StartsWith("image.", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(imageSettings);

        var manifests = Helm.TemplateWith("{}", ["--set", string.Join(',', imageSettings)]);
        var images = manifests.OfKind("Deployment").Concat(manifests.OfKind("Job"))
            .SelectMany(w => w.Containers()).Select(c => Yaml.Str(c, "image")!).ToHashSet();
        Assert.Equal(3, images.Count);
        Assert.All(images, image =>
        {
            Assert.True(built.TryGetValue(image, out var dockerfile), $"the chart runs {image}, which the README does not build");
            var component = image[(image.LastIndexOf('/') + 1)..image.LastIndexOf(':')];
            Assert.Equal($"services/EmailPlatform.{char.ToUpperInvariant(component[0])}{component[1..]}/Dockerfile", dockerfile);
            Assert.Contains(image, pushed);
        });
    }

    /// <summary>The README's text from <c>### Helm</c> to the next heading of that level or above.</summary>
    private static IEnumerable<string> HelmSection()
    {
        var lines = Repo.Read("README.md").Split('\n');
        var start = Array.FindIndex(lines, l => l.TrimEnd() == "### Helm");
        Assert.True(start >= 0, "README.md has no '### Helm' section");
        return lines.Skip(start + 1).TakeWhile(l => !l.StartsWith("## ", StringComparison.Ordinal) && !l.StartsWith("### ", StringComparison.Ordinal));
    }

    /// <summary>The commands of the section's <c>```sh</c> blocks, continuation lines joined, comments dropped.</summary>
    private static IEnumerable<string> ShellCommands(IEnumerable<string> section)
    {
        var inBlock = false;
        var command = "";
        foreach (var raw in section)
        {
            var line = raw.TrimEnd();
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                inBlock = !inBlock && line == "```sh";
                continue;
            }

            if (!inBlock)
            {
                continue;
            }

            var comment = line.IndexOf(" #", StringComparison.Ordinal);
            line = (comment >= 0 ? line[..comment] : line).TrimEnd();
            if (line.EndsWith('\\'))
            {
                command += line[..^1];
                continue;
            }

            command += line;
            if (command.Trim().Length > 0)
            {
                yield return command.Trim();
            }

            command = "";
        }
    }

    [GeneratedRegex(@"^(?<name>[A-Z_]+)=(?<value>\S+)")]
    private static partial Regex Assignment();

    [GeneratedRegex(@"\$\{?(?<name>[A-Z_]+)\}?")]
    private static partial Regex Variable();

    [GeneratedRegex(@"--set (?<value>\S+)")]
    private static partial Regex Set();
}

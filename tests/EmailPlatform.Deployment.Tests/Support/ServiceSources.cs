using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace EmailPlatform.Deployment.Tests.Support;

/// <summary>
/// What the deployment files must agree with, read from the services' sources rather than restated:
/// the configuration keys the options classes and connection-string lookups read, and the projects each
/// host is built from.
/// </summary>
internal static partial class ServiceSources
{
    /// <summary>The host projects, each with its Dockerfile: <c>services/EmailPlatform.X/Dockerfile</c>.</summary>
    public static readonly IReadOnlyList<string> Hosts = FindHosts();

    /// <summary>Configuration keys (<c>Delivery:Relays:*:Host</c>) by the project whose sources read them.</summary>
    public static readonly IReadOnlyDictionary<string, IReadOnlySet<string>> KeysByProject = FindKeys();

    /// <summary>First segments of every key the services read.</summary>
    public static IReadOnlySet<string> CheckedRoots { get; } =
        KeysByProject.Values.SelectMany(k => k).Select(k => k.Split(':')[0]).ToHashSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The RabbitMQ queues of the priority lanes (<c>send-email-high</c>, …), read from the constants of
    /// <c>DeliveryLanes</c>: what KEDA scales on and the alerts and dashboard select.
    /// </summary>
    public static IReadOnlyList<string> DeliveryLanes { get; } =
        StringConstant().Matches(Repo.Read("services/EmailPlatform.ServiceDefaults/Messaging/DeliveryLanes.cs"))
            .Select(m => m.Groups["value"].Value)
            .ToList();

    /// <summary><c>services/EmailPlatform.Ingress/EmailPlatform.Ingress.csproj</c> for <c>EmailPlatform.Ingress</c>.</summary>
    public static string ProjectFile(string project) => ProjectFiles().Single(p => Path.GetFileNameWithoutExtension(p) == project);

    /// <summary>The project and every project it references, transitively (repository-relative .csproj paths).</summary>
    public static IReadOnlyList<string> ProjectClosure(string project)
    {
        var seen = new List<string>();
        var pending = new Stack<string>([Repo.PathOf(ProjectFile(project))]);
        while (pending.TryPop(out var csproj))
        {
            var relative = Repo.Relative(csproj);
            if (seen.Contains(relative))
            {
                continue;
            }

            seen.Add(relative);
            foreach (var reference in XDocument.Load(csproj).Descendants("ProjectReference"))
            {
                var include = reference.Attribute("Include")!.Value.Replace('\\', '/');
                pending.Push(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(csproj)!, include)));
            }
        }

        return seen;
    }

    /// <summary>The keys a host reads: its own and those of every project it references.</summary>
    public static IReadOnlySet<string> KeysReadBy(string project) =>
        ProjectClosure(project)
            .Select(Path.GetFileNameWithoutExtension)
            .SelectMany(p => KeysByProject.TryGetValue(p!, out var keys) ? keys : Enumerable.Empty<string>())
            .ToHashSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Roots of configuration keys that the runtime and the frameworks read, not the services' options: a variable under
    /// one of these is not checked. Those the chart and docker-compose.yml set (<c>Logging__…</c>), and Kestrel's.
    /// </summary>
    public static IReadOnlySet<string> FrameworkRoots { get; } = new HashSet<string>(["Logging", "Kestrel"], StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// <c>Delivery__Relays__0__Host</c> as the key the code binds (<c>Delivery:Relays:*:Host</c>), after the
    /// <c>DOTNET_</c> or <c>ASPNETCORE_</c> prefix the host strips; null for a variable that is no configuration key of
    /// the services: one without a section (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c>, <c>ASPNETCORE_HTTP_PORTS</c>) or under
    /// <see cref="FrameworkRoots"/>. A key under any other root is returned, so that a misspelt section
    /// (<c>Webhook__…</c> for <c>Webhooks__…</c>) is a key no service reads rather than one left unchecked.
    /// </summary>
    public static string? KeyOf(string environmentVariable)
    {
        var name = environmentVariable;
        foreach (var prefix in (string[])["DOTNET_", "ASPNETCORE_"])
        {
            if (name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                name = name[prefix.Length..];
            }
        }

        var segments = name.Split("__");
        if (segments.Length < 2 || name.StartsWith("OTEL_", StringComparison.OrdinalIgnoreCase) || FrameworkRoots.Contains(segments[0]))
        {
            return null;
        }

        return string.Join(':', segments.Select(s => s.All(char.IsAsciiDigit) ? "*" : s));
    }

    /// <summary>
    /// The environment variables among <paramref name="variables"/> that set a configuration key
    /// <paramref name="project"/> does not read (<see cref="KeyOf"/>): a misspelt key, or one of another service.
    /// </summary>
    public static IEnumerable<string> UnreadBy(string project, IEnumerable<string> variables)
    {
        var known = KeysReadBy(project);
        return variables.Where(v => KeyOf(v) is { } key && !known.Contains(key));
    }

    private static IEnumerable<string> ProjectFiles() =>
        Directory.EnumerateFiles(Repo.PathOf("services"), "*.csproj", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(Repo.PathOf("contracts"), "*.csproj", SearchOption.AllDirectories))
            .Select(Repo.Relative);

    private static List<string> FindHosts() =>
        ProjectFiles()
            .Where(p => XDocument.Load(Repo.PathOf(p)).Root!.Attribute("Sdk")?.Value == "Microsoft.NET.Sdk.Web")
            .Select(p => Path.GetFileNameWithoutExtension(p))
            .Order(StringComparer.Ordinal)
            .ToList();

    private static Dictionary<string, IReadOnlySet<string>> FindKeys()
    {
        var files = Repo.SourceFiles().Select(f => (Path: f, Text: File.ReadAllText(f))).ToList();
        var constants = files
            .SelectMany(f => StringConstant().Matches(f.Text))
            .GroupBy(m => m.Groups["name"].Value)
            .ToDictionary(g => g.Key, g => g.First().Groups["value"].Value);
        var classProperties = files
            .SelectMany(f => ClassDeclaration().Matches(f.Text).Select(m => (Class: m.Groups["name"].Value, f.Text)))
            .GroupBy(c => c.Class)
            .ToDictionary(g => g.Key, g => Properties(g.First().Text));

        var result = new Dictionary<string, HashSet<string>>();
        foreach (var (path, text) in files)
        {
            var project = ProjectOf(path);
            var keys = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

            foreach (Match section in SectionName().Matches(text))
            {
                foreach (var (type, name) in Properties(text))
                {
                    var element = ElementType(type);
                    if (element is not null && classProperties.TryGetValue(element, out var nested))
                    {
                        keys.UnionWith(nested.Select(n => $"{section.Groups["value"].Value}:{name}:*:{n.Name}"));
                    }
                    else if (element is not null)
                    {
                        // A list of values (string[] Domains): its items are Domains:0, Domains:1, ….
                        keys.Add($"{section.Groups["value"].Value}:{name}:*");
                    }
                    else
                    {
                        keys.Add($"{section.Groups["value"].Value}:{name}");
                    }
                }
            }

            foreach (Match lookup in ConnectionStringLookup().Matches(text))
            {
                var name = lookup.Groups["literal"].Success ? lookup.Groups["literal"].Value
                    : constants.GetValueOrDefault(lookup.Groups["constant"].Value);
                if (name is not null)
                {
                    keys.Add($"ConnectionStrings:{name}");
                }
            }

            if (keys.Count > 0)
            {
                (result.TryGetValue(project, out var existing) ? existing : result[project] = new(StringComparer.OrdinalIgnoreCase)).UnionWith(keys);
            }
        }

        return result.ToDictionary(e => e.Key, e => (IReadOnlySet<string>)e.Value);
    }

    private static List<(string Type, string Name)> Properties(string text) =>
        SettableProperty().Matches(text).Select(m => (m.Groups["type"].Value.Trim(), m.Groups["name"].Value)).ToList();

    private static string? ElementType(string type)
    {
        var match = CollectionType().Match(type);
        return match.Success ? match.Groups["element"].Value : null;
    }

    private static string ProjectOf(string sourceFile)
    {
        for (var dir = Path.GetDirectoryName(sourceFile); dir is not null; dir = Path.GetDirectoryName(dir))
        {
            var csproj = Directory.EnumerateFiles(dir, "*.csproj").FirstOrDefault();
            if (csproj is not null)
            {
                return Path.GetFileNameWithoutExtension(csproj);
            }
        }

        throw new InvalidOperationException($"{sourceFile} belongs to no project.");
    }

    [GeneratedRegex("""const\s+string\s+SectionName\s*=\s*"(?<value>[^"]+)"\s*;""")]
    private static partial Regex SectionName();

    [GeneratedRegex("""const\s+string\s+(?<name>\w+)\s*=\s*"(?<value>[^"]*)"\s*;""")]
    private static partial Regex StringConstant();

    [GeneratedRegex("""GetConnectionString\(\s*(?:"(?<literal>[^"]+)"|(?:\w+\.)*(?<constant>\w+))\s*\)""")]
    private static partial Regex ConnectionStringLookup();

    [GeneratedRegex("""\bclass\s+(?<name>\w+)""")]
    private static partial Regex ClassDeclaration();

    [GeneratedRegex("""public\s+(?<type>[\w<>?,\[\]\s]+?)\s+(?<name>\w+)\s*\{\s*get;\s*set;""")]
    private static partial Regex SettableProperty();

    [GeneratedRegex("""^(?:List|IList|IReadOnlyList|ICollection|IEnumerable)<(?<element>\w+)>\??$|^(?<element>\w+)\[\]\??$""")]
    private static partial Regex CollectionType();
}

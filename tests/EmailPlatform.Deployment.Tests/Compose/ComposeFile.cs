using System.Text.RegularExpressions;
using EmailPlatform.Deployment.Tests.Support;

namespace EmailPlatform.Deployment.Tests.Compose;

/// <summary>docker-compose.yml, parsed, with what the tests ask of its services.</summary>
internal static partial class ComposeFile
{
    public const string Path = "docker-compose.yml";

    public static readonly Dictionary<object, object> Document = Yaml.Map(Yaml.Parse(Repo.Read(Path)), Path);

    public static IEnumerable<KeyValuePair<string, object?>> Services => Yaml.Entries(Document["services"]);

    public static object? Service(string name) => Yaml.Map(Document["services"], "services")[name];

    /// <summary>The host project a service runs (<c>EmailPlatform.Delivery</c>), from its Dockerfile; null for images we do not build.</summary>
    public static string? ProjectOf(object? service) =>
        Yaml.Str(service, "build.dockerfile") is { } dockerfile ? dockerfile.Split('/')[^2] : null;

    public static bool IsMigration(object? service) => Yaml.List(Yaml.At(service, "command")).Contains("migrate");

    public static Dictionary<string, string> Environment(object? service) =>
        Yaml.At(service, "environment") switch
        {
            Dictionary<object, object> map => map.ToDictionary(e => (string)e.Key, e => e.Value as string ?? ""),
            List<object> list => list.Cast<string>().Select(s => s.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : ""),
            _ => [],
        };

    /// <summary>A value as compose resolves it with no variables set: <c>${X:-dev}</c> becomes <c>dev</c>.</summary>
    public static string WithDefaults(string value) => DefaultedVariable().Replace(value, m => m.Groups["default"].Value);

    [GeneratedRegex(@"\$\{\w+:?-(?<default>[^}]*)\}")]
    private static partial Regex DefaultedVariable();
}

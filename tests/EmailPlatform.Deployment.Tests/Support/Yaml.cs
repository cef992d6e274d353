using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace EmailPlatform.Deployment.Tests.Support;

/// <summary>
/// YAML as plain maps, lists and strings (merge keys and anchors resolved), with small helpers to walk it.
/// </summary>
internal static class Yaml
{
    private static readonly IDeserializer Deserializer = new DeserializerBuilder().Build();

    public static object? Parse(string text) =>
        Deserializer.Deserialize<object>(new MergingParser(new Parser(new StringReader(text))));

    /// <summary>Every non-empty document of a multi-document stream (e.g. <c>helm template</c> output).</summary>
    public static List<Dictionary<object, object>> ParseAll(string text)
    {
        var parser = new MergingParser(new Parser(new StringReader(text)));
        parser.Consume<StreamStart>();
        var documents = new List<Dictionary<object, object>>();
        while (parser.Accept<DocumentStart>(out _))
        {
            if (Deserializer.Deserialize<object>(parser) is Dictionary<object, object> document)
            {
                documents.Add(document);
            }
        }

        return documents;
    }

    public static Dictionary<object, object> Map(object? node, string what) =>
        node as Dictionary<object, object> ?? throw new InvalidOperationException($"{what} is not a mapping.");

    public static List<object> List(object? node) => node as List<object> ?? [];

    /// <summary>The value at a dotted path (<c>spec.template.spec</c>), or null.</summary>
    public static object? At(object? node, string path)
    {
        foreach (var key in path.Split('.'))
        {
            if (node is not Dictionary<object, object> map || !map.TryGetValue(key, out node))
            {
                return null;
            }
        }

        return node;
    }

    public static string? Str(object? node, string path) => At(node, path) as string;

    /// <summary>One key that may itself contain dots (<c>app.kubernetes.io/component</c>).</summary>
    public static string? Key(object? node, string key) =>
        node is Dictionary<object, object> map && map.TryGetValue(key, out var value) ? value as string : null;

    public static IEnumerable<KeyValuePair<string, object?>> Entries(object? node) =>
        node is Dictionary<object, object> map
            ? map.Select(e => new KeyValuePair<string, object?>((string)e.Key, e.Value))
            : [];
}

using EmailPlatform.Deployment.Tests.Support;

namespace EmailPlatform.Deployment.Tests.Chart;

/// <summary>Finders over rendered manifests.</summary>
internal static class Manifests
{
    public static IEnumerable<Dictionary<object, object>> OfKind(this IEnumerable<Dictionary<object, object>> manifests, string kind) =>
        manifests.Where(m => Yaml.Str(m, "kind") == kind);

    public static string Name(this Dictionary<object, object> manifest) => Yaml.Str(manifest, "metadata.name")!;

    public static string? Component(this Dictionary<object, object> manifest) =>
        Yaml.Key(Yaml.At(manifest, "metadata.labels"), "app.kubernetes.io/component");

    public static Dictionary<object, object> Deployment(this IEnumerable<Dictionary<object, object>> manifests, string component) =>
        manifests.OfKind("Deployment").Single(d => d.Component() == component);

    public static IEnumerable<object> Containers(this Dictionary<object, object> workload) =>
        Yaml.List(Yaml.At(workload, "spec.template.spec.initContainers")).Concat(Yaml.List(Yaml.At(workload, "spec.template.spec.containers")));

    /// <summary>
    /// The value a Deployment's containers get for an environment variable, from an <c>env</c> entry (a plain value) or
    /// a ConfigMap they load with <c>envFrom</c>; null when they get none.
    /// </summary>
    public static string? EnvironmentValue(this Dictionary<object, object> workload, IEnumerable<Dictionary<object, object>> manifests, string name)
    {
        foreach (var container in workload.Containers())
        {
            if (Yaml.List(Yaml.At(container, "env")).FirstOrDefault(v => Yaml.Str(v, "name") == name) is { } variable)
            {
                return Yaml.Str(variable, "value");
            }

            foreach (var source in Yaml.List(Yaml.At(container, "envFrom")))
            {
                var configMap = manifests.OfKind("ConfigMap").Single(c => c.Name() == Yaml.Str(source, "configMapRef.name"));
                if (Yaml.Key(Yaml.At(configMap, "data"), name) is { } value)
                {
                    return value;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// The environment variable names a Deployment's containers get: <c>env</c> entries plus the keys of
    /// the ConfigMaps they load with <c>envFrom</c>.
    /// </summary>
    public static IEnumerable<string> EnvironmentNames(this Dictionary<object, object> workload, IEnumerable<Dictionary<object, object>> manifests)
    {
        foreach (var container in workload.Containers())
        {
            foreach (var variable in Yaml.List(Yaml.At(container, "env")))
            {
                yield return Yaml.Str(variable, "name")!;
            }

            foreach (var source in Yaml.List(Yaml.At(container, "envFrom")))
            {
                var configMap = manifests.OfKind("ConfigMap").Single(c => c.Name() == Yaml.Str(source, "configMapRef.name"));
                foreach (var (key, _) in Yaml.Entries(Yaml.At(configMap, "data")))
                {
                    yield return key;
                }
            }
        }
    }
}

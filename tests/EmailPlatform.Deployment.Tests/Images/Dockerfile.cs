namespace EmailPlatform.Deployment.Tests.Images;

/// <summary>A Dockerfile as instructions (continuation lines joined, comments dropped), split into stages.</summary>
internal sealed record Dockerfile(IReadOnlyList<Dockerfile.Instruction> Instructions)
{
    public sealed record Instruction(string Keyword, string Arguments, int Stage);

    public static Dockerfile Parse(string text)
    {
        var instructions = new List<Instruction>();
        var stage = -1;
        var pending = "";
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (pending.Length == 0 && line.TrimStart().StartsWith('#'))
            {
                continue;
            }

            if (line.EndsWith('\\'))
            {
                pending += line[..^1] + " ";
                continue;
            }

            var full = (pending + line).Trim();
            pending = "";
            if (full.Length == 0)
            {
                continue;
            }

            var parts = full.Split((char[]?)null, 2, StringSplitOptions.RemoveEmptyEntries);
            var keyword = parts[0].ToUpperInvariant();
            if (keyword == "FROM")
            {
                stage++;
            }

            instructions.Add(new Instruction(keyword, parts.Length > 1 ? parts[1] : "", stage));
        }

        return new Dockerfile(instructions);
    }

    public int StageCount => Instructions.Max(i => i.Stage) + 1;

    public IEnumerable<Instruction> FinalStage => Instructions.Where(i => i.Stage == StageCount - 1);

    public int IndexOf(Func<Instruction, bool> predicate)
    {
        for (var i = 0; i < Instructions.Count; i++)
        {
            if (predicate(Instructions[i]))
            {
                return i;
            }
        }

        return -1;
    }
}

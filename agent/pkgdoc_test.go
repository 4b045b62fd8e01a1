package agent

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageDocs walks every package of the module: each says its job in a package comment
// (STYLE.md), in doc.go and only there (a second one would be glued to it by go doc); the
// command's is in its main.go and starts with "Command".
func TestPackageDocs(t *testing.T) {
	dirs := map[string][]string{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") && path != "..") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			dirs[filepath.Dir(path)] = append(dirs[filepath.Dir(path)], path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 5 {
		t.Fatalf("found only %d packages: the walk is wrong", len(dirs))
	}
	for dir, files := range dirs {
		var withDoc []string
		for _, name := range files {
			f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if f.Doc == nil {
				continue
			}
			withDoc = append(withDoc, filepath.Base(name))
			want := "Package " + f.Name.Name + " "
			if f.Name.Name == "main" {
				want = "Command "
			}
			if !strings.HasPrefix(f.Doc.Text(), want) {
				t.Errorf("%s: package comment does not start with %q", name, want)
			}
		}
		switch {
		case len(withDoc) == 0:
			t.Errorf("%s: no package comment", dir)
		case len(withDoc) > 1:
			t.Errorf("%s: package comments in %v, want one", dir, withDoc)
		case withDoc[0] != "doc.go" && withDoc[0] != "main.go":
			t.Errorf("%s: package comment in %s, want doc.go", dir, withDoc[0])
		}
	}
}
